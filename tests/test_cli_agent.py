"""The real `spacechain` console script in a subprocess, its LLM a scripted OpenAI-compatible server
(tests/llm_stub.py) reached through litellm, its Spaces the loopback apps behind the Hub stand-in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pexpect
import pytest
from cli_support import (
    CHAIN,
    GOAL,
    SPACECHAIN,
    blob,
    cli_env,
    error_lines,
    has_call,
    interrupt,
    manifest,
    scripted_args,
    spacechain,
    wait_for,
)
from servers import Reply, ScriptedServer, free_port

# --------------------------------------------------------------------------- full runs


def test_run_json_full_chain(hub_env, llm, tmp_path: Path):
    stub = llm(CHAIN)
    out = tmp_path / "run"
    proc = spacechain(
        [*scripted_args("run", GOAL, api_base=stub.url, out=out), "--json"],
        cli_env(hub_env.url, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # stdout is only the JSON document
    assert result["success"] is True and result["status"] == "success" and result["error"] is None
    assert Path(result["run_dir"]) == out.resolve()
    assert result["final_answer"].startswith("Made ") and "acme/trellis-lite" in result["final_answer"]
    files = result["files"]
    assert len(files) == 3 and all(Path(f).is_file() and Path(f).parent == out.resolve() for f in files)
    assert sorted(Path(f).suffix for f in files) == [".glb", ".glb", ".png"]
    assert Path(result["gallery"]).is_file() and Path(result["gallery"]).name == "gallery.html"
    assert Path(result["manifest"]) == out.resolve() / "manifest.json"
    # --json is a listener of the planner's events: every call as it finished, with its files.
    assert [(c["call"], c["state"]) for c in result["calls"]] == [
        ("acme/flux-lite /generate", "complete"),
        ("acme/trellis-lite /image_to_3d", "complete"),
        ("acme/trellis-lite /extract_glb", "complete"),
    ]
    assert {f for c in result["calls"] for f in c["files"]} == set(files)

    m = manifest(out)
    assert m["goal"] == GOAL and m["model"] == "openai/scripted" and m["status"] == "success"
    assert [c["endpoint"] for c in m["calls"]] == ["/generate", "/image_to_3d", "/extract_glb"]
    assert all(c["status"] == "complete" for c in m["calls"])
    assert len(m["steps"]) == 4 and m["steps"][-1]["final"]
    assert "upload: Refused to upload /etc/passwd" in m["steps"][2]["observations"]
    assert set(m["files"]) == set(files)
    # litellm talked to the stub without streaming (stderr is not a terminal here).
    assert len(stub.requests) == 4
    assert not any(r.get("stream") for r in stub.requests)
    assert all(r["model"] == "scripted" for r in stub.requests)
    assert GOAL in json.dumps(stub.requests[0]["messages"])
    # The Space API the agent read in step 1 is what the model saw in step 2.
    assert "/image_to_3d(image: image file" in json.dumps(stub.requests[1]["messages"])


def test_run_without_final_answer_stops_at_max_steps(hub_env, llm, tmp_path: Path):
    stub = llm(
        [
            blob('img = run_space("acme/flux-lite", "/generate", {"prompt": "a lighthouse"})[0]\nprint(img)'),
            blob('print("thinking")'),
            "I could not finish.",  # the fallback answer smolagents asks for after the last step
        ]
    )
    out = tmp_path / "run"
    proc = spacechain(
        [*scripted_args("run", "a lighthouse", api_base=stub.url, out=out), "--max-steps", "2"],
        cli_env(hub_env.url, tmp_path),
    )
    assert proc.returncode not in (0, None)
    (line,) = error_lines(proc.stderr)
    assert "all 2 steps without a final answer" in line
    m = manifest(out)
    assert m["status"] == "max_steps"
    assert len(m["files"]) == 1 and Path(m["files"][0]).is_file() and m["files"][0].endswith(".png")
    assert (out / "gallery.html").is_file()
    assert len(stub.requests) == 3


# --------------------------------------------------------------------------- failing early, in one line


def test_bad_file_fails_before_any_llm_or_hub_request(hub_env, scripted: ScriptedServer, tmp_path: Path):
    hub_env.clear_log()
    nope, out = tmp_path / "nope.png", tmp_path / "run"
    proc = spacechain(
        scripted_args("run", "describe it", "--file", str(nope), api_base=scripted.url + "/v1", out=out),
        cli_env(hub_env.url, tmp_path),
    )
    assert proc.returncode not in (0, None)
    assert proc.stderr.strip().splitlines() == [
        f"error: --file {tmp_path / 'nope.png'} does not exist; give the path of an existing file."
    ]
    assert proc.stdout == ""
    assert scripted.requests == []
    assert hub_env.requests() == []
    assert not (tmp_path / "run").exists()


def test_unreachable_llm_backend_is_one_line_before_any_hub_request(hub_env, tmp_path: Path):
    hub_env.clear_log()
    base = f"http://127.0.0.1:{free_port()}/v1"
    proc = spacechain(
        scripted_args("run", "anything", api_base=base, out=tmp_path / "run"),
        cli_env(hub_env.url, tmp_path),
    )
    assert proc.returncode not in (0, None)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: Cannot reach the LLM backend at {base}")
    assert hub_env.requests() == []


def test_missing_provider_key_is_one_line(hub_env, tmp_path: Path):
    hub_env.clear_log()
    proc = spacechain(
        ["run", "anything", "--model", "anthropic/claude-x", "--out", str(tmp_path / "run")],
        cli_env(hub_env.url, tmp_path),
    )
    assert proc.returncode not in (0, None)
    assert proc.stderr.strip().splitlines() == [
        "error: No API key for anthropic/claude-x: set ANTHROPIC_API_KEY or pass --api-key."
    ]
    assert hub_env.requests() == []


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["chat", "--help"]])
def test_help_does_not_import_litellm(args: list[str], tmp_path: Path):
    env = cli_env("http://127.0.0.1:9", tmp_path, PYTHONPROFILEIMPORTTIME="1")
    proc = spacechain(args, env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage" in proc.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "typer" in imported  # the import log works
    assert not [m for m in imported if m.split(".")[0] in ("litellm", "smolagents", "openai")]


# --------------------------------------------------------------------------- streaming (TTY) vs not


def test_terminal_run_streams_tokens_from_litellm(hub_env, llm, tmp_path: Path):
    stub = llm(
        [
            blob('img = run_space("acme/flux-lite", "/generate", {"prompt": "a streamed cat"})[0]\nprint(img)'),
            blob('final_answer("streamed: " + img)'),
        ]
    )
    out = tmp_path / "run"
    env = cli_env(hub_env.url, tmp_path, TERM="xterm-256color")
    env.pop("NO_COLOR")
    child = pexpect.spawn(
        SPACECHAIN,
        scripted_args("run", "a streamed cat", api_base=stub.url, out=out),
        env=env,
        dimensions=(40, 200),
        encoding="utf-8",
        timeout=120,
    )
    try:
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before[-3000:]
    assert "streamed: " in child.before
    assert len(stub.requests) == 2
    assert all(r.get("stream") is True for r in stub.requests)
    m = manifest(out)
    assert m["status"] == "success" and m["final_answer"].startswith("streamed: ")
    assert [c["status"] for c in m["calls"]] == ["complete"]
    assert Path(m["files"][0]).is_file()


def test_sigint_during_a_run_cancels_and_keeps_the_run_folder(hub_env, private_toolbox, llm, tmp_path: Path):
    stub = llm(
        [
            blob('img = run_space("acme/flux-lite", "/generate", {"prompt": "before the cancel"})[0]\nprint(img)'),
            blob('print(run_space("acme/toolbox", "/slow", {"seconds": 30}))'),
            blob('final_answer("never")'),
        ]
    )
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [SPACECHAIN, *scripted_args("run", "slow things", api_base=stub.url, out=out), "--json"],
        env=cli_env(hub_env.url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: has_call(out / "manifest.json", "/slow") or proc.poll() is not None, 60, "the /slow call")
        assert proc.poll() is None, "the /slow call never started"
        stdout, stderr = interrupt(proc)  # the call is submitted: the Ctrl-C must cancel it, not wait 30 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert error_lines(stderr) == ["error: interrupted; the run folder keeps what was done"]
    result = json.loads(stdout)
    assert result["status"] == "interrupted" and result["success"] is False
    m = manifest(out)
    assert m["status"] == "interrupted"
    gen, slow = m["calls"]
    assert gen["status"] == "complete" and Path(gen["outputs"][0]).is_file()
    assert slow["status"] == "error" and slow["error"]["error"] == "cancelled"
    assert m["files"] == [gen["outputs"][0]] == result["files"]
    assert (out / "gallery.html").is_file()
    assert len(stub.requests) == 2


def test_llm_backend_failing_mid_run_is_one_line_with_the_cause(hub_env, scripted: ScriptedServer, tmp_path: Path):
    completion = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": blob(
                        'img = run_space("acme/flux-lite", "/generate", {"prompt": "before the outage"})[0]\nprint(img)'
                    ),
                },
            }
        ],
    }
    scripted.add("/v1/models", Reply(200, {}, {"object": "list", "data": []}))
    scripted.add(
        "/v1/chat/completions",
        Reply(200, {}, completion),
        Reply(500, {}, {"error": {"message": "the scripted model is overloaded", "type": "server_error"}}),
    )
    out = tmp_path / "run"
    proc = spacechain(
        scripted_args("run", "an outage", api_base=scripted.url + "/v1", out=out),
        cli_env(hub_env.url, tmp_path),
    )
    assert proc.returncode not in (0, None)
    (line,) = error_lines(proc.stderr)
    assert "the scripted model is overloaded" in line
    # The provider client retried the 500 twice (quickly) before giving up.
    assert len(scripted.requests_to("/v1/chat/completions")) == 1 + 3
    m = manifest(out)
    assert m["status"] == "failed"
    assert len(m["files"]) == 1 and Path(m["files"][0]).is_file()
