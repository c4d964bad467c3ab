"""`spacechain export RUN --trace`: a run's conversation in the Hub's Session Trace Simple Format (hub-docs
docs/hub/session-traces-format.md), for an agent run and a replay, and `--push` to a dataset on the Hub
stand-in through huggingface_hub."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
from agent_support import make_planner
from cli_support import cli_env, error_lines, spacechain
from scripted_model import code

GOAL = "a 3D model of a lighthouse"
STEPS = [
    code(
        'img = run_space("acme/flux-lite", "/generate", {"prompt": "a lighthouse"})[0]\nprint("image:", img)',
        "Make the picture first.",
    ),
    code(
        'run_space("acme/trellis-lite", "/image_to_3d", {"image": img})\n'
        'glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]\nprint(glb)',
        "Now the 3D model from it.",
    ),
    code("final_answer(glb)", "Done."),
]
MESSAGE_FIELDS = {"role", "content", "reasoningContent", "toolCalls", "toolCallId", "timestamp", "model"}


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_agent_run_as_a_session_trace(hub_env, tmp_path):
    planner, run, _ = make_planner(tmp_path, STEPS, goal=GOAL)
    try:
        assert planner.turn(GOAL).success
    finally:
        run.close()
    env = cli_env(hub_env.url, tmp_path)
    res = spacechain(["export", str(run.dir), "--trace", str(tmp_path / "trace.jsonl")], env)
    assert res.returncode == 0, res.stderr
    header, *messages = lines_of(tmp_path / "trace.jsonl")
    assert header["type"] == "session" and header["harness"] == "spacechain"
    assert header["id"] == run.dir.name and header["name"] == GOAL and header["model"] == "scripted"
    assert {m["type"] for m in messages} == {"message"}
    msgs = [m["message"] for m in messages]
    assert all(set(m) <= MESSAGE_FIELDS and isinstance(m["content"], str) for m in msgs)
    assert all(isinstance(m["timestamp"], int) and m["timestamp"] > 1.7e12 for m in msgs)  # epoch milliseconds
    assert [m["role"] for m in msgs] == ["user"] + ["assistant", "tool"] * 3 + ["assistant"]
    assert msgs[0]["content"] == GOAL
    # Every documented field is used where it belongs.
    assert set().union(*msgs) == MESSAGE_FIELDS
    steps = msgs[1:-1:2]
    assert [s["reasoningContent"] for s in steps] == ["Make the picture first.", "Now the 3D model from it.", "Done."]
    assert all(s["model"] == "scripted" for s in steps)
    calls = [s["toolCalls"] for s in steps]
    assert all(len(c) == 1 and c[0]["function"]["name"] == "python" for c in calls)
    assert json.loads(calls[0][0]["function"]["arguments"])["code"].startswith('img = run_space("acme/flux-lite"')
    results = msgs[2:-1:2]
    assert [r["toolCallId"] for r in results] == [c[0]["id"] for c in calls]  # each result answers its call
    assert "image:" in results[0]["content"] and "acme/flux-lite /generate (complete" in results[0]["content"]
    assert "acme/trellis-lite /extract_glb (complete" in results[1]["content"]
    glb = next(f for f in run.produced_files() if f.endswith(".glb") and "extract_glb" in f)
    assert msgs[-1]["role"] == "assistant" and glb in msgs[-1]["content"]
    stamps = [m["timestamp"] for m in msgs]
    assert stamps == sorted(stamps)


def test_a_replay_traces_its_space_calls_and_pushes_to_a_dataset(hub_env, tmp_path):
    planner, run, _ = make_planner(tmp_path, STEPS, goal=GOAL)
    try:
        assert planner.turn(GOAL).success
    finally:
        run.close()
    env = cli_env(hub_env.url, tmp_path)
    out = tmp_path / "replayed"
    assert spacechain(["replay", str(run.dir), "--out", str(out)], env).returncode == 0
    trace = tmp_path / "replay.jsonl"
    res = spacechain(["export", str(out), "--trace", str(trace), "--push", "me/spacechain-traces"], env)
    assert res.returncode == 0, res.stderr
    header, *messages = lines_of(trace)
    msgs = [m["message"] for m in messages]
    assert header["model"] == "replay (no LLM)"
    tool_calls = [c for m in msgs for c in m.get("toolCalls", [])]
    assert [c["function"]["name"] for c in tool_calls] == ["run_space"] * 3
    first = json.loads(tool_calls[0]["function"]["arguments"])
    assert first["space"] == "acme/flux-lite" and first["inputs"] == {"prompt": "a lighthouse"}
    answers = {m["toolCallId"]: m["content"] for m in msgs if m["role"] == "tool"}
    assert set(answers) == {c["id"] for c in tool_calls}
    # The push: a dataset made with create_repo, the file committed under the session's id.
    name = f"{header['id']}.jsonl"
    assert res.stdout.strip() == f"{hub_env.url}/datasets/me/spacechain-traces/blob/main/{name}"
    repo = httpx.get(f"{hub_env.url}/__repos", timeout=10).json()["me/spacechain-traces"]
    assert repo["type"] == "dataset" and repo["private"] is False
    assert repo["files"] == {name: hashlib.sha256(trace.read_bytes()).hexdigest()}
    again = spacechain(["export", str(out), "--trace", str(trace), "--push", "me/spacechain-traces"], env)
    assert again.returncode == 0, again.stderr  # the dataset exists now: the file is committed again


def test_trace_errors_are_one_line(hub_env, tmp_path):
    planner, run, _ = make_planner(tmp_path, [code('final_answer("ok")')], goal="g")
    try:
        planner.turn("g")
    finally:
        run.close()
    env = cli_env(hub_env.url, tmp_path)
    no_token = {k: v for k, v in env.items() if k != "HF_TOKEN"}
    cases = [
        (["export", str(run.dir), "--push", "me/x"], env, "give --trace"),
        (["export", str(run.dir), "--trace", str(tmp_path / "t.jsonl"), "--push", "not a repo"], env, "owner/name"),
        (["export", str(run.dir), "--trace", str(tmp_path / "t.jsonl"), "--workflow", "w.json"], env, "give one of"),
        (["export", str(run.dir), "--trace", str(tmp_path / "t.jsonl"), "--push", "me/x"], no_token, "HF token"),
        (["export", str(tmp_path / "nope"), "--trace", str(tmp_path / "t.jsonl")], env, "no manifest.json"),
    ]
    for args, e, fragment in cases:
        res = spacechain(args, e)
        assert res.returncode != 0 and len(error_lines(res.stderr)) == 1, (args, res.stderr)
        assert fragment in res.stderr and "Traceback" not in res.stderr, res.stderr
