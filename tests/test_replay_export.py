"""Replay and export of a recorded run, `cache ls|clear`, `--max-space-calls`, and the fan-out tools
the agent sees — all through the real console script and a scripted OpenAI-compatible LLM."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from artifacts_check import glb_source
from artifacts_check import sha256 as sha
from cli_support import (
    CHAIN,
    GOAL,
    SPACECHAIN,
    blob,
    cli_env,
    error_lines,
    interrupt,
    manifest,
    scripted_args,
    spacechain,
)
from PIL import Image

from spacechain.agent.replay import Chain, ChainCall, export_script, replay_chain
from spacechain.agent.run import Run
from spacechain.tools import UploadRefused


@pytest.fixture
def recorded(hub_env, llm, tmp_path) -> tuple[Path, dict]:
    """A run folder made by `spacechain run` through the text → image → 3D chain."""
    stub = llm(CHAIN)
    env = cli_env(hub_env.url, tmp_path)
    run_dir = tmp_path / "run"
    res = spacechain(scripted_args("run", GOAL, api_base=stub.url, out=run_dir), env)
    assert res.returncode == 0, res.stderr
    return run_dir, env


def prompt_of(png: str) -> str:
    return Image.open(png).text["prompt"]


def outputs_by_endpoint(m: dict) -> dict[str, list]:
    return {c["endpoint"]: c["outputs"] for c in m["calls"] if c["status"] == "complete"}


def test_replay_with_a_new_prompt_rewires_outputs(recorded, tmp_path):
    run_dir, env = recorded
    out = tmp_path / "replay"
    res = spacechain(["replay", str(run_dir), "--set", "prompt=Louvre", "--no-cache", "--out", str(out), "--json"], env)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["run_dir"] == str(out) and Path(info["gallery"]).is_file()
    m = manifest(out)
    assert m["model"] == "replay (no LLM)" and m["status"] == "success"
    outs = outputs_by_endpoint(m)
    image, glb = outs["/generate"][0], outs["/extract_glb"][0]
    assert prompt_of(image) == "Louvre"
    assert glb_source(glb) == sha(image)  # the 3D call got the NEW image, not the recorded one
    assert m["stats"]["total"]["calls"] == 3 and m["stats"]["total"]["cache_hits"] == 0


def test_identical_replay_is_served_from_the_cache(recorded, tmp_path):
    run_dir, env = recorded
    out = tmp_path / "again"
    res = spacechain(["replay", str(run_dir), "--out", str(out)], env)
    assert res.returncode == 0, res.stderr
    m = manifest(out)
    assert m["stats"]["total"] == {"calls": 0, "cache_hits": 3, "failures": 0, "queue_s": 0.0, "run_s": 0.0}
    assert all(c["cached"] for c in m["calls"])
    original = outputs_by_endpoint(manifest(run_dir))["/extract_glb"][0]
    assert sha(outputs_by_endpoint(m)["/extract_glb"][0]) == sha(original)
    listing = spacechain(["cache", "ls", "--json"], env)
    assert len(json.loads(listing.stdout)["entries"]) == 3
    cleared = spacechain(["cache", "clear"], env)
    assert cleared.returncode == 0 and "removed 3" in cleared.stdout
    assert json.loads(spacechain(["cache", "ls", "--json"], env).stdout)["entries"] == []


def test_results_keep_readable_names_on_every_rerun(recorded, tmp_path):
    """The run folder holds the result as results/<title>.<ext>, listed in the manifest and named on its card;
    the chain run again gets the same name."""
    run_dir, env = recorded
    m = manifest(run_dir)
    glb = outputs_by_endpoint(m)["/extract_glb"][0]
    assert m["results"] == [
        {
            "name": "eiffel-tower.glb",
            "path": "results/eiffel-tower.glb",
            "file": glb,
            "title": "Eiffel Tower",
            "sha256": sha(glb),
        }
    ]
    assert os.listdir(run_dir / "results") == ["eiffel-tower.glb"]
    assert (run_dir / "results" / "eiffel-tower.glb").read_bytes() == Path(glb).read_bytes()
    page = (run_dir / "gallery.html").read_text()
    assert '<a class="name" href="results/eiffel-tower.glb" download="eiffel-tower.glb">eiffel-tower.glb</a>' in page
    assert f">{Path(glb).name}</a>" not in page.split('<details class="every">')[0]  # no hash name on a card
    for out, args in ((tmp_path / "again", []), (tmp_path / "louvre", ["--set", "prompt=Louvre"])):
        res = spacechain(["replay", str(run_dir), *args, "--out", str(out)], env)
        assert res.returncode == 0, res.stderr
        name = "eiffel-tower.glb" if not args else "louvre.glb"
        assert [e["name"] for e in manifest(out)["results"]] == [name] and (out / "results" / name).is_file()


def test_replay_errors_are_one_line(recorded, tmp_path):
    run_dir, env = recorded
    for args in (
        ["replay", str(tmp_path / "nope")],
        ["replay", str(run_dir), "--set", "nosuch=1"],
        ["replay", str(run_dir), "--set", "novalue"],
        ["export", str(tmp_path / "nope")],
    ):
        res = spacechain(args, env)
        assert res.returncode != 0 and len(error_lines(res.stderr)) == 1, (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_export_writes_a_script_that_reproduces_the_chain(recorded, tmp_path):
    run_dir, env = recorded
    script = tmp_path / "pipeline.py"
    res = spacechain(["export", str(run_dir), "-o", str(script)], env)
    assert res.returncode == 0, res.stderr
    text = script.read_text()
    assert "PROMPT = 'Eiffel Tower'" in text and "out1[0]" in text and "/gradio_api" not in text
    compile(text, str(script), "exec")
    text = text.replace("PROMPT = 'Eiffel Tower'", "PROMPT = 'Pont Neuf'")
    script.write_text(text)
    out = tmp_path / "exported"
    ran = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    pngs, glbs = sorted(out.glob("generate-*.png")), sorted(out.glob("extract_glb-*.glb"))
    assert prompt_of(str(pngs[0])) == "Pont Neuf" and glb_source(str(glbs[0])) == sha(str(pngs[0]))


def test_max_space_calls_stops_the_agent_cleanly(hub_env, llm, tmp_path):
    stub = llm(CHAIN)
    run_dir = tmp_path / "budget"
    res = spacechain(
        [*scripted_args("run", GOAL, api_base=stub.url, out=run_dir), "--max-space-calls", "1"],
        cli_env(hub_env.url, tmp_path),
    )
    assert res.returncode != 0
    errors = error_lines(res.stderr)
    assert len(errors) == 1 and "max-space-calls" in errors[0]
    m = manifest(run_dir)
    assert m["status"] == "budget" and m["stats"]["total"]["calls"] == 1
    assert Path(m["files"][0]).is_file()  # what was made before the stop is kept
    assert (run_dir / "gallery.html").is_file()


SIX = ["Eiffel Tower", "Louvre", "Notre-Dame", "Arc de Triomphe", "Sacre-Coeur", "Pont Neuf"]


def test_seed_goal_six_landmarks_pipelined_into_a_gallery(hub_env, llm, tmp_path):
    """The seed goal, with a scripted LLM that plans it the way the prompt teaches (run_pipeline)."""
    stub = llm(
        [
            blob(
                f"landmarks = {SIX!r}\n"
                'rows = run_pipeline([{"prompt": p} for p in landmarks], [\n'
                '    {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "{prompt}"}},\n'
                '    {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},\n'
                '    {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}}])\n'
                'models = [r["outputs"][2][0] for r in rows]\nprint(len(models), [r.get("error") for r in rows])'
            ),
            blob('final_answer("Six models: " + ", ".join(models))'),
        ]
    )
    run_dir = tmp_path / "paris"
    res = spacechain(
        [*scripted_args("run", "a 3D gallery of six Paris landmarks", api_base=stub.url, out=run_dir), "--json"],
        cli_env(hub_env.url, tmp_path),
    )
    assert res.returncode == 0, res.stderr
    m = manifest(run_dir)
    calls = [c for c in m["calls"] if c["status"] == "complete"]
    assert len(calls) == 18 and {c["session"] for c in calls} == {f"item-{i}" for i in range(6)}
    finals = []
    for i, name in enumerate(SIX):
        mine = {c["endpoint"]: c for c in calls if c["session"] == f"item-{i}"}
        image, glb = mine["/generate"]["outputs"][0], mine["/extract_glb"]["outputs"][0]
        assert mine["/generate"]["inputs"] == {"prompt": name} and prompt_of(image) == name
        assert glb_source(glb) == sha(image)  # each landmark's model is made from its own image
        finals.append(glb)
    page = (run_dir / "gallery.html").read_text()
    for glb in finals:
        assert f'<model-viewer src="{Path(glb).name}"' in page
    names = {e["file"]: e["name"] for e in m["results"]}
    assert [names[glb] for glb in finals] == [f"{re.sub('[^a-z]+', '-', n.lower())}.glb" for n in SIX]
    assert page.count("<model-viewer") >= 6 and "camera-controls" in page


def test_show_serves_the_gallery_on_loopback(recorded):
    import signal

    import httpx

    run_dir, env = recorded
    proc = subprocess.Popen(
        [SPACECHAIN, "show", str(run_dir), "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/gallery.html")
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "<model-viewer" in page.text
        glb = outputs_by_endpoint(manifest(run_dir))["/extract_glb"][0]
        assert httpx.get(url.replace("gallery.html", Path(glb).name), timeout=10).content[:4] == b"glTF"
        readable = httpx.get(url.replace("gallery.html", "results/eiffel-tower.glb"), timeout=10)
        assert readable.status_code == 200 and readable.content == Path(glb).read_bytes()
        _, stderr = interrupt(proc)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_replay_dry_run_checks_everything_and_calls_nothing(recorded, tmp_path, hub_env):
    run_dir, env = recorded
    res = spacechain(["replay", str(run_dir), "--set", "prompt=Louvre", "--dry-run"], env)
    assert res.returncode == 0 and "ok: all 3 call(s) would run" in res.stdout, res.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    res = spacechain(
        ["replay", str(run_dir), "--set", f"image={notes}", "--file", str(notes), "--dry-run", "--json"], env
    )
    assert res.returncode != 0 and len(error_lines(res.stderr)) == 1 and "Traceback" not in res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is False and any("image expects an image file" in p for p in report["problems"])
    hub_env.update_space("acme/trellis-lite", stage="RUNTIME_ERROR")
    res = spacechain(["replay", str(run_dir), "--dry-run"], env)
    assert res.returncode != 0 and "acme/trellis-lite is not running" in res.stderr
    # Nothing ran: no new run folder beside the recorded one, no new cache entry.
    assert sorted(p.name for p in tmp_path.iterdir() if (p / "manifest.json").exists()) == ["run"]
    assert len(json.loads(spacechain(["cache", "ls", "--json"], env).stdout)["entries"]) == 3


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
