"""The typed run record: load and dump, versions, and the one answer to "which call made this file"."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scripted_model import code

from spacechain.agent.record import FORMAT, CallEntry, RecordError, RunRecord
from spacechain.agent.run import Run, dumps
from spacechain.tools import Client, SpacechainError, UploadRefused


def test_a_run_writes_a_versioned_record_that_round_trips(hub_env, make):
    planner, run, _ = make(
        [
            code(
                'img = run_space("acme/flux-lite", "/generate", {"prompt": "tower"})[0]\n'
                'run_space("acme/trellis-lite", "/image_to_3d", {"image": img})\n'
                'glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]\nfinal_answer(glb)'
            ),
        ]
    )
    assert planner.turn("a tower").success
    run.close()
    data = json.loads((run.dir / "manifest.json").read_text())
    assert data["format"] == FORMAT
    record = RunRecord.load(run.dir)
    assert record.to_dict() == RunRecord.from_dict(record.to_dict()).to_dict()
    assert [c.endpoint for c in record.calls] == ["/generate", "/image_to_3d", "/extract_glb"]
    image, glb = record.calls[0].outputs[0], record.calls[2].outputs[0]
    assert isinstance(record.calls[0], CallEntry) and record.calls[0].files[0].kind == "png"
    assert record.producer(glb) is record.calls[2] and record.producer(image) is record.calls[0]
    assert record.producer(str(run.dir / "nope.png")) is None
    # The image fed image_to_3d by path; extract_glb read the session: lineage follows the files.
    assert [c.endpoint for c in record.lineage(record.calls[1].outputs[0])] == ["/generate", "/image_to_3d"]
    made = [image, record.calls[1].outputs[0], glb, record.calls[2].outputs[1]]
    assert record.produced() == list(dict.fromkeys(made))  # each file once


def test_an_old_manifest_loads_as_format_1(tmp_path: Path):
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "spacechain": "0.1.0",
                "goal": "g",
                "model": "m",
                "future_field": 1,
                "calls": [{"space": "a/b", "endpoint": "/x", "status": "complete", "files": [{"local": "x.png"}]}],
            }
        )
    )
    record = RunRecord.load(tmp_path)
    assert record.format == 1 and record.calls[0].session == "default" and record.calls[0].files[0].direction == "in"


@pytest.mark.parametrize(
    "bad,fragment",
    [
        ([], "not a JSON object"),
        ({"calls": {}}, "'calls' is not a list"),
        ({"calls": [{"space": 3, "endpoint": "/x"}]}, "'space' is not text"),
        ({"calls": [{"endpoint": "/x"}]}, "has no space"),
        ({"calls": [{"space": "", "endpoint": "/x", "status": "complete"}]}, "has no Space"),
        ({"calls": [{"space": "a/b", "endpoint": "/x", "files": [{"sha256": "x"}]}]}, "file 1 has no local"),
        ({"user_files": "x"}, "'user_files' is not a list"),
    ],
)
def test_a_malformed_record_is_one_line(tmp_path: Path, bad, fragment):
    (tmp_path / "manifest.json").write_text(json.dumps(bad))
    with pytest.raises(RecordError) as info:
        RunRecord.load(tmp_path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_failed_calls_are_in_the_manifest(hub_env, tmp_path):
    run = Run(tmp_path / "run", goal="g", model="m")
    with pytest.raises(SpacechainError):
        run.client.submit("acme/toolbox", "/echo", {"bogus": 1})
    with pytest.raises(UploadRefused):
        run.client.submit("acme/toolbox", "/count_upload", {"file": "/etc/hostname"})
    run.close()
    calls = json.loads((run.dir / "manifest.json").read_text())["calls"]
    assert [(c["endpoint"], c["status"], c["error"]["error"]) for c in calls] == [
        ("/echo", "error", "invalid_inputs"),
        ("/count_upload", "error", "upload_refused"),
    ]


def test_manifest_is_strict_json_and_never_overwritten(tmp_path):
    assert json.loads(dumps({"x": [math.nan, math.inf, 1.5]})) == {"x": [None, None, 1.5]}
    Run(tmp_path / "r", goal="g", model="m", client=Client(token=False)).close()
    with pytest.raises(SpacechainError, match="already holds a run"):
        Run(tmp_path / "r", goal="g2", model="m", client=Client(token=False))
