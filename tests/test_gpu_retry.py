"""A job ZeroGPU refuses for want of a free GPU is submitted again by the job itself, so every path behaves
the same: the library's submit and call, `spacechain call`, `run` and `replay`, MCP call_space/poll_result
(the official SDK client) and the studio's session. Against acme/toolbox's /gpu_busy, which refuses the
first N calls of a key with the `spaces` package's "No GPU was available" error."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from cli_support import SCRIPT, assert_one_error_line, blob, cli_env, manifest, scripted_args, spacechain

from spacechain.tools import Cancelled, Client, GpuUnavailable, JobUpdate
from spacechain.tools.http import RetryPolicy

FAST = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02, gpu_waits_s=(0.05, 0.05))
NOTE = "no ZeroGPU GPU was free; submitting again in"


def key() -> str:
    return uuid.uuid4().hex  # /gpu_busy counts refusals per key, in an app shared by the whole session


def test_a_submitted_job_is_sent_again_and_tells_its_listener(hub_env, tmp_path: Path) -> None:
    updates: list[JobUpdate] = []
    with Client(out_dir=tmp_path, retry=FAST) as client:
        job = client.submit("acme/toolbox", "/gpu_busy", {"key": key(), "refusals": 2}, on_update=updates.append)
        handle = job.event_id
        assert job.result(60) == ["ran after 2 refusals"]
    assert job.event_id == handle  # the caller's handle holds for the whole job
    record = job.record
    assert record.status == "complete" and record.error is None
    assert [r["error"]["error"] for r in record.refused] == ["gpu_unavailable", "gpu_unavailable"]
    assert record.refused[0]["event_id"] == handle and record.event_id not in {handle, record.refused[1]["event_id"]}
    notes = {u.note for u in updates if u.state == "retrying"}
    assert notes == {f"{NOTE} 0.05 s (attempt 2 of 3)", f"{NOTE} 0.05 s (attempt 3 of 3)"}
    assert "error" not in {u.state for u in updates} and updates[-1].state == "complete"
    assert updates[-1].attempt == 3


def test_refusals_past_the_last_retry_are_gpu_unavailable(hub_env, tmp_path: Path) -> None:
    with Client(out_dir=tmp_path, retry=FAST) as client:
        with pytest.raises(GpuUnavailable, match="no ZeroGPU GPU was free in time") as info:
            client.call("acme/toolbox", "/gpu_busy", {"key": key(), "refusals": 5})
        assert len(info.value.record.refused) == 2  # three submissions in all
        assert client.call("acme/toolbox", "/noop") == ["ok"]  # the session was freed


def test_a_cancel_while_waiting_to_submit_again_ends_the_job_at_once(hub_env, tmp_path: Path) -> None:
    waiting = threading.Event()
    policy = RetryPolicy(gpu_waits_s=(60.0,))

    def listen(update: JobUpdate) -> None:
        if update.state == "retrying":
            waiting.set()

    with Client(out_dir=tmp_path, retry=policy) as client:
        job = client.submit("acme/toolbox", "/gpu_busy", {"key": key(), "refusals": 1}, on_update=listen)
        assert waiting.wait(60)
        job.cancel()
        assert job.wait(10)  # not the 60 s of the wait
        with pytest.raises(Cancelled):
            job.result()


def test_cli_call_waits_for_a_gpu_and_says_so(hub_env, tmp_path: Path) -> None:
    env = cli_env(hub_env.url, tmp_path, SPACECHAIN_GPU_RETRY_WAITS="0.05")
    res = spacechain(["call", "acme/toolbox", "/gpu_busy", "-i", f"key={key()}", "-i", "refusals=1", "--json"], env)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["outputs"] == ["ran after 1 refusals"] and len(info["record"]["refused"]) == 1
    assert f"acme/toolbox /gpu_busy retrying: {NOTE} 0.05 s (attempt 2 of 2)" in res.stderr
    bad = spacechain(["call", "acme/toolbox", "/noop"], {**env, "SPACECHAIN_GPU_RETRY_WAITS": "soon"})
    assert_one_error_line(bad, "SPACECHAIN_GPU_RETRY_WAITS", "5,15")


def test_run_and_replay_wait_for_a_gpu(hub_env, llm, tmp_path: Path) -> None:
    first, second = key(), key()
    stub = llm(
        [
            blob(f'out = run_space("acme/toolbox", "/gpu_busy", {{"key": "{first}", "refusals": 1}})\nprint(out)'),
            blob("final_answer(out[0])"),
        ]
    )
    env = cli_env(hub_env.url, tmp_path, SPACECHAIN_GPU_RETRY_WAITS="0.05")
    res = spacechain(scripted_args("run", "call the busy GPU", api_base=stub.url, out=tmp_path / "run"), env)
    assert res.returncode == 0, res.stderr
    (call,) = manifest(tmp_path / "run")["calls"]
    assert call["status"] == "complete" and len(call["refused"]) == 1
    res = spacechain(["replay", str(tmp_path / "run"), "--set", f"key={second}", "--out", str(tmp_path / "again")], env)
    assert res.returncode == 0, res.stderr
    (call,) = manifest(tmp_path / "again")["calls"]
    assert call["outputs"] == ["ran after 1 refusals"] and call["inputs"]["key"] == second
    assert [r["error"]["error"] for r in call["refused"]] == ["gpu_unavailable"]


def test_mcp_call_space_poll_result_and_run_space_wait_for_a_gpu(hub_env, tmp_path: Path) -> None:
    pytest.importorskip("mcp")
    from mcp import Client as McpClient
    from mcp.client.stdio import StdioServerParameters

    env = {**cli_env(hub_env.url, tmp_path), "SPACECHAIN_GPU_RETRY_WAITS": "1.5"}  # a progress report falls in
    (tmp_path / "work").mkdir()
    params = StdioServerParameters(
        command=SCRIPT, args=["mcp", "--out", str(tmp_path / "out")], env=env, cwd=tmp_path / "work"
    )
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    def value(result: Any) -> Any:
        assert not result.is_error, result.content[0].text
        return result.content[0].text if result.structured_content is None else result.structured_content["result"]

    async def main() -> None:
        async with McpClient(params, read_timeout_seconds=90) as client:
            args = {"space": "acme/toolbox", "endpoint": "/gpu_busy", "inputs": {"key": key(), "refusals": 1}}
            event_id = value(await client.call_tool("call_space", args))
            outputs = value(await client.call_tool("poll_result", {"event_id": event_id, "timeout": 60}))
            assert outputs == ["ran after 1 refusals"]
            args["inputs"] = {"key": key(), "refusals": 1}
            result = await client.call_tool("run_space", args, progress_callback=on_progress)
            assert value(result) == ["ran after 1 refusals"]

    anyio.run(main)
    assert any(m.startswith(f"retrying, {NOTE} 1.5 s (attempt 2 of 2)") for m in progress), progress


def test_the_studio_shows_a_call_waiting_for_a_gpu(hub_env, llm, tmp_path: Path, monkeypatch) -> None:
    from spacechain.agent.events import CallUpdated
    from spacechain.agent.start import PlanOptions
    from spacechain.agent.studio_session import Session
    from spacechain.agent.studio_view import View, calls_html

    monkeypatch.setenv("SPACECHAIN_GPU_RETRY_WAITS", "0.05")
    stub = llm(
        [
            blob(f'out = run_space("acme/toolbox", "/gpu_busy", {{"key": "{key()}", "refusals": 1}})\nprint(out)'),
            blob("final_answer(out[0])"),
        ]
    )
    pages: list[str] = []

    class Page(View):
        """The page as the studio redraws it, kept after each call update."""

        def apply(self, event: Any, chain_of: Any) -> None:
            super().apply(event, chain_of)
            if isinstance(event, CallUpdated):
                pages.append(calls_html(self.calls))

    session = Session(tmp_path / "runs", PlanOptions(model="openai/scripted", api_base=stub.url, max_steps=3))
    view = Page()
    session.start_turn("call the busy GPU", [])
    deadline = time.monotonic() + 120
    while session.busy() and time.monotonic() < deadline:
        assert session.drain(view) == []
        time.sleep(0.05)
    assert session.drain(view) == [] and not session.busy()
    session.close()
    assert any('data-state="retrying"' in p and f"{NOTE} 0.05 s (attempt 2 of 2)" in p for p in pages), pages
    assert view.status == "turn 1 done" and view.answer == "ran after 1 refusals"
    assert [c["state"] for c in view.calls.values()] == ["complete"]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert len(manifest(run_dir)["calls"][0]["refused"]) == 1
