"""Regression tests for defects found in review: cache contents, busy sessions, failed-call records,
replay's upload rule, strict JSON, and one-line errors for unusual bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from artifacts_check import glb_source, sha256
from cli_support import cli_env, error_lines, spacechain

from spacechain.agent.replay import Chain, ChainCall, export_script, replay_chain
from spacechain.agent.run import Run, dumps
from spacechain.tools import Client, SessionBusy, SpacechainError, UploadRefused
from spacechain.tools.cache import CallCache
from spacechain.tools.pipeline import run_batch


def test_cache_keeps_only_downloaded_outputs(hub_env, tmp_path):
    """A Space echoing a local path must not get that file copied into the cache or the run."""
    secret = tmp_path / "secret.env"
    secret.write_text("TOKEN=hunter2")
    cache = CallCache(tmp_path / "cache")
    for out in ("a", "b"):
        with Client(out_dir=tmp_path / out, cache=cache) as client:
            [echoed] = client.call("acme/toolbox", "/echo", {"text": str(secret)})
            assert echoed["text"]["value"] == str(secret)
    assert client.records[-1].cached and client.records[-1].files == []
    assert not [f for f in (tmp_path / "cache").rglob("*") if f.is_file() and f.name != "entry.json"]
    assert not (tmp_path / "b" / "secret.env").exists()


def test_same_call_twice_in_parallel_with_the_cache(hub_env, tmp_path):
    with Client(out_dir=tmp_path, cache=CallCache(tmp_path / "cache")) as client:
        out = run_batch(client, "acme/flux-lite", "/generate", [{"prompt": "twin"}] * 4, max_concurrency=4)
    assert all(isinstance(o, list) and Path(o[0]).is_file() for o in out), out


def test_a_busy_session_is_an_error_not_a_hang(hub_env, app_launcher, tmp_path):
    url = app_launcher(["misc"])["misc"]
    with Client(out_dir=tmp_path) as client:
        slow = client.submit(url, "/slow", {"seconds": 3}, session="s")
        with pytest.raises(SessionBusy, match="session 's' is still busy"):
            client.submit(url, "/noop", session="s", timeout=0.3)
        assert client.call(url, "/noop", session="other") == ["ok"]  # other sessions are free
        assert slow.result(10) == ["done"]
        assert client.call(url, "/noop", session="s") == ["ok"]


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


def test_replay_uploads_only_files_the_recorded_user_named(hub_env, tmp_path):
    named, other = tmp_path / "named.txt", tmp_path / "other.txt"
    named.write_text("mine")
    other.write_text("not mine")
    chain = Chain("g", [ChainCall("acme/toolbox", "/count_upload", "default", {"file": str(other)})])
    run = Run(tmp_path / "replay", goal="g", model="replay")
    with pytest.raises(UploadRefused, match="pass it with --file"):
        replay_chain(run, chain, set(), user_files=[])
    from spacechain.tools.files import sha256_file

    chain.calls[0].inputs = {"file": str(named)}
    results = replay_chain(run, chain, set(), user_files=[{"path": str(named), "sha256": sha256_file(named)}])
    assert results == [["4"]]
    named.write_text("changed since")
    run2 = Run(tmp_path / "replay2", goal="g", model="replay")
    with pytest.raises(UploadRefused):
        replay_chain(run2, chain, set(), user_files=[{"path": str(named), "sha256": "0" * 64}])
    run.close(), run2.close()


def test_export_survives_odd_goals(tmp_path):
    chain = Chain('C:\\Users\\me """quoted""" goal', [ChainCall("a/b", "/x", "default", {"prompt": "p"})])
    compile(export_script(chain, "C:\\runs\\1"), "pipeline.py", "exec")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["call", "acme/toolbox", "count_upload", "-i", "file=" + "a" * 300], "does not exist"),
        (
            [
                "run",
                "goal",
                "--file",
                "~nosuchuser_zz/x.png",
                "--model",
                "openai/x",
                "--api-base",
                "http://127.0.0.1:9",
            ],
            "does not exist",
        ),
        (["run", "goal", "--model", "hf:org/model", "--api-base", "http://127.0.0.1:9"], "no --api-base"),
        (["export", "RUN", "-o", "/nonexistent/dir/pipeline.py"], "No such file or directory"),
    ],
)
def test_odd_bad_input_is_one_line(hub_env, tmp_path, args, fragment):
    if "RUN" in args:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "manifest.json").write_text(
            json.dumps(
                {
                    "goal": "g",
                    "calls": [
                        {
                            "space": "acme/toolbox",
                            "endpoint": "/noop",
                            "status": "complete",
                            "inputs": None,
                            "outputs": ["ok"],
                        }
                    ],
                }
            )
        )
        args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    res = spacechain(args, cli_env(hub_env.url, tmp_path))
    errors = error_lines(res.stderr)
    assert res.returncode != 0 and len(errors) == 1 and fragment in errors[0], res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_hub_is_one_line(tmp_path):
    env = cli_env("http://127.0.0.1:9", tmp_path)
    for args in (["inspect", "acme/x"], ["search", "image"]):
        res = spacechain(args, env, timeout=120)
        errors = error_lines(res.stderr)
        assert res.returncode != 0 and len(errors) == 1 and "Cannot reach the Hub" in errors[0], res.stderr


def test_sandbox_holds_for_cache_hits(hub_env, tmp_path):
    """A result computed from a private file must not come back to a run that may not upload it."""
    private = tmp_path / "private.txt"
    private.write_text("12345")
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        assert client.call("acme/toolbox", "/count_upload", {"file": str(private)}) == ["5"]
    run = Run(tmp_path / "run", goal="g", model="m", cache=cache)
    with pytest.raises(UploadRefused):
        run.client.submit("acme/toolbox", "/count_upload", {"file": str(private)})
    run.close()


def test_an_uncached_state_writer_unsettles_cached_readers(hub_env, tmp_path):
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        red, blue = (client.call("acme/flux-lite", "/generate", {"prompt": p})[0] for p in ("red", "blue"))
        client.call("acme/trellis-lite", "/image_to_3d", {"image": red})
        client.call("acme/trellis-lite", "/extract_glb")
    with Client(out_dir=tmp_path / "b", cache=cache) as client:
        client.call("acme/trellis-lite", "/image_to_3d", {"image": red})  # a hit
        client.call("acme/trellis-lite", "/image_to_3d", {"image": blue}, use_cache=False)
        glb = client.call("acme/trellis-lite", "/extract_glb")[0]
    assert glb_source(glb) == sha256(blue)


def test_cached_calls_report_progress(hub_env, tmp_path):
    cache, seen = CallCache(tmp_path / "cache"), []
    for out in ("a", "b"):
        with Client(out_dir=tmp_path / out, cache=cache) as client:
            client.call("acme/toolbox", "/noop", on_update=lambda u: seen.append(u.state))
    assert seen[-1] == "cached" and "complete" in seen


def test_call_json_prints_the_failed_record(hub_env, tmp_path):
    res = spacechain(["call", "acme/toolbox", "/quota", "--json"], cli_env(hub_env.url, tmp_path))
    assert res.returncode == 1 and len(error_lines(res.stderr)) == 1
    out = json.loads(res.stdout)
    assert out["outputs"] is None and out["error"]["error"] == "quota_exceeded"
    assert out["error"]["retry_after_s"] == 588 and out["record"]["status"] == "error"


def test_replay_refuses_a_set_file_before_calling_anything(hub_env, tmp_path):
    chain = Chain(
        "g",
        [
            ChainCall("acme/flux-lite", "/generate", "default", {"prompt": "x"}),
            ChainCall("acme/toolbox", "/count_upload", "default", {"file": "placeholder"}),
        ],
    )
    secret = tmp_path / "secret"
    secret.write_text("s")
    chain.calls[1].inputs["file"] = str(secret)  # as apply_overrides would for --set file=...
    run = Run(tmp_path / "replay", goal="g", model="replay")
    with pytest.raises(UploadRefused, match="--set gives"):
        replay_chain(run, chain, {"file"})
    assert run.client.records == []  # nothing was called
    run.close()
