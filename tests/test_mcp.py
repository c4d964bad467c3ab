"""`spacechain mcp` driven by the official MCP SDK's client, over stdio and Streamable HTTP, against the
loopback Spaces and the Hub stand-in."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cli_support import SCRIPT, assert_one_error_line
from conftest import TEST_TOKEN
from PIL import Image

pytest.importorskip("mcp")

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from spacechain.tools.toolset import TOOLSET

NAMES = [s.name for s in TOOLSET]


def _png(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (16, 16), color).save(path)
    return path


@pytest.fixture
def work(hub_env, tmp_path: Path) -> dict[str, Any]:
    """A working directory (the default allowed folder), an output folder outside it, and the server's env."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    keys = (
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_HOME",
        "HF_HUB_DISABLE_TELEMETRY",
        "PATH",
        "PYTHONPATH",
        "LITELLM_LOCAL_MODEL_COST_MAP",
    )
    env = {k: os.environ[k] for k in keys if k in os.environ}
    return {"cwd": cwd, "out": tmp_path / "out", "env": env, "tmp": tmp_path}


def _stdio(work: dict[str, Any], *extra: str) -> Client:
    params = StdioServerParameters(
        command=SCRIPT, args=["mcp", "--out", str(work["out"]), *extra], env=work["env"], cwd=work["cwd"]
    )
    return Client(params, read_timeout_seconds=90)


def _glb_source(glb: str) -> str:
    """The sha256 of the image a test GLB was made from (its JSON chunk's asset.extras)."""
    data = Path(glb).read_bytes()
    return json.loads(data[20 : 20 + int.from_bytes(data[12:16], "little")])["asset"]["extras"]["source_sha256"]


def _text(result: Any) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text", result
    return result.content[0].text


def _value(result: Any) -> Any:
    text, structured = _text(result), result.structured_content
    if structured is None:
        return text
    value = json.loads(text)
    assert isinstance(structured, dict) and structured == (value if isinstance(value, dict) else {"result": value})
    return value


class Calls:
    """Every tool call of a test, so one check can see every result text (the token in none of them)."""

    def __init__(self, client: Client):
        self.client, self.texts = client, []

    async def ok(self, name: str, args: dict, **kw: Any) -> Any:
        """The result's value: a text result's plain text, else its structured content (also its JSON text)."""
        result = await self.client.call_tool(name, args, **kw)
        self.texts.append(_text(result))
        assert not result.is_error, self.texts[-1]
        return _value(result)

    async def error(self, name: str, args: dict) -> str:
        result = await self.client.call_tool(name, args)
        self.texts.append(_text(result))
        assert result.is_error, self.texts[-1]
        assert "\n" not in self.texts[-1]
        return self.texts[-1]


def test_stdio_tools_chain_sessions_errors_and_uploads(work) -> None:
    photo = _png(work["cwd"] / "photo.png", (200, 40, 30))
    outside = _png(work["tmp"] / "outside.png", (10, 10, 200))

    async def main() -> None:
        async with _stdio(work) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert list(tools) == NAMES
            for spec in TOOLSET:  # the same argument names as the agent's toolset
                props = set(tools[spec.name].input_schema["properties"])
                assert set(spec.inputs) <= props
                assert props - set(spec.inputs) <= {"timeout"}
            assert "timeout" in tools["run_pipeline"].input_schema["properties"]
            assert tools["poll_result"].input_schema["required"] == ["event_id"]
            assert "allowed folders" in (tools["upload_file"].description or "")

            calls = Calls(client)
            api = await calls.ok("get_space_api", {"space": "acme/trellis-lite"})
            assert "/extract_glb" in api
            # text -> image -> 3D: the image is an output outside the allowed folder, uploadable as ours
            image = (await calls.ok("run_space", {"space": "acme/flux-lite", "endpoint": "/generate",
                                                  "inputs": {"prompt": "a red fox"}}))[0]  # fmt: skip
            assert Path(image).is_absolute() and Path(image).is_relative_to(work["out"].resolve())
            for src in (image, str(photo)):
                preview = await calls.ok(
                    "run_space",
                    {
                        "space": "acme/trellis-lite",
                        "endpoint": "/image_to_3d",
                        "inputs": {"image": src},
                        "session": "s1",
                    },
                )
                assert Path(preview[0]).suffix == ".glb" and Path(preview[0]).is_file()
            glb = await calls.ok(
                "run_space", {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "session": "s1"}
            )
            assert Path(glb[0]).is_file() and Path(glb[0]).is_relative_to(work["out"].resolve())
            # another session name never sees s1's State
            msg = await calls.error(
                "run_space", {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "session": "s2"}
            )
            assert "Generate a 3D model first" in msg
            msg = await calls.error("run_space", {"space": "acme/trellis-lite", "endpoint": "/nope"})
            assert "/image_to_3d" in msg and "/extract_glb" in msg
            msg = await calls.error("upload_file", {"space": "acme/toolbox", "path": str(outside)})
            assert msg.startswith("Refused to upload") and "--allow" in msg
            msg = await calls.error(
                "run_space",
                {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": str(outside)}},
            )
            assert "Refused to upload" in msg
            assert (await calls.ok("upload_file", {"space": "acme/toolbox", "path": str(photo)}))["path"]
            assert (await calls.ok("upload_file", {"space": "acme/toolbox", "path": glb[0]}))["path"]
            msg = await calls.error("run_space", {"space": "acme/toolbox"})
            assert "endpoint" in msg
            await calls.ok("read_agents_md", {"space": "acme/toolbox"})
            await calls.ok("search_spaces", {"query": "3D model"})
            # the seeds' text -> image -> 3D chain for many items, pipelined, each item in its own session
            stages = [
                {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "{prompt}"}},
                {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},
                {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}},
            ]
            items = [{"prompt": "Eiffel Tower"}, {"prompt": "Colosseum"}, {"prompt": "Taj Mahal"}]
            rows = await calls.ok("run_pipeline", {"items": items, "stages": stages})
            assert [r["item"] for r in rows] == items and not any("error" in r for r in rows)
            sources = {_glb_source(r["outputs"][2][0]) for r in rows}
            images = {hashlib.sha256(Path(r["outputs"][0][0]).read_bytes()).hexdigest() for r in rows}
            assert sources == images and len(images) == 3  # each GLB from its own item's image
            assert all(TEST_TOKEN not in t for t in calls.texts)

    anyio.run(main)


def test_text_results_are_plain_text_and_lists_and_dicts_structured(work) -> None:
    async def main() -> None:
        async with _stdio(work) as client:
            api = await client.call_tool("get_space_api", {"space": "acme/toolbox"})
            assert api.structured_content is None and _text(api).startswith("/echo(text: str")
            submitted = await client.call_tool("call_space", {"space": "acme/toolbox", "endpoint": "/noop"})
            event_id = _text(submitted)
            assert submitted.structured_content is None and event_id.isalnum(), event_id  # no JSON quotes
            done = await client.call_tool("poll_result", {"event_id": event_id, "timeout": 30})
            assert done.structured_content == {"result": ["ok"]} and json.loads(_text(done)) == ["ok"]
            contract = await client.call_tool("read_agents_md", {"space": "acme/toolbox"})
            assert contract.structured_content["space"] == "acme/toolbox"
            assert json.loads(_text(contract)) == contract.structured_content

    anyio.run(main)


def test_slow_call_returns_handle_then_poll_result_with_progress(work) -> None:
    async def main() -> None:
        async with _stdio(work) as client:
            calls = Calls(client)
            seen: list[tuple[float, str | None]] = []

            async def progress(value: float, total: float | None, message: str | None) -> None:
                seen.append((value, message))

            slow = {"space": "acme/toolbox", "endpoint": "/slow", "inputs": {"seconds": 4}}
            t0 = time.monotonic()
            handle = await calls.ok("run_space", {**slow, "timeout": 2.5}, progress_callback=progress)
            assert time.monotonic() - t0 > 2.0  # waited its timeout; 'running' says it did not wait for the end
            assert handle["status"] == "running" and handle["event_id"].startswith("run_space-")
            assert len(seen) >= 2 and [v for v, _ in seen] == sorted({v for v, _ in seen})
            assert all(m for _, m in seen)
            seen.clear()
            done = await calls.ok(
                "poll_result", {"event_id": handle["event_id"], "timeout": 20}, progress_callback=progress
            )
            assert done == ["done"]
            # a batch is one handle for the whole job, collected the same way
            batch = {"space": "acme/toolbox", "endpoint": "/slow", "inputs_list": [{"seconds": 1}, {"seconds": 1.5}]}
            handle = await calls.ok("run_space_batch", {**batch, "timeout": 0.3})
            assert handle["status"] == "running"
            running = await calls.ok("poll_result", {"event_id": handle["event_id"], "timeout": 0})
            assert running["status"] == "running"
            assert await calls.ok("poll_result", {"event_id": handle["event_id"], "timeout": 20}) == [
                ["done"],
                ["done"],
            ]
            msg = await calls.error("poll_result", {"event_id": "nope"})
            assert "Unknown event id" in msg
            assert all(TEST_TOKEN not in t for t in calls.texts)

    anyio.run(main)


def test_a_cancelled_tool_call_cancels_its_space_job(work) -> None:
    async def main() -> None:
        async with _stdio(work) as client:
            calls = Calls(client)
            ticks = {"space": "acme/toolbox", "endpoint": "/ticks"}
            with anyio.move_on_after(2.0) as scope:  # the SDK client tells the server it gave up
                await client.call_tool("run_space", {**ticks, "inputs": {"seconds": 60}, "timeout": 90})
            assert scope.cancelled_caught
            # /ticks runs one job at a time, on one session: had the first kept running, this one would wait.
            t0 = time.monotonic()
            assert await calls.ok("run_space", {**ticks, "inputs": {"seconds": 0.5}, "timeout": 30}) == ["done"]
            assert time.monotonic() - t0 < 15
            # A batch one item at a time: the running item is cancelled and the next one never submitted.
            batch = {**ticks, "inputs_list": [{"seconds": 60}, {"seconds": 60}], "max_concurrency": 1}
            with anyio.move_on_after(2.0) as scope:
                await client.call_tool("run_space_batch", {**batch, "timeout": 90})
            assert scope.cancelled_caught
            await anyio.sleep(1.0)  # time for a second item to be submitted, were it going to be
            t0 = time.monotonic()
            assert await calls.ok("run_space", {**ticks, "inputs": {"seconds": 0.5}, "timeout": 30}) == ["done"]
            assert time.monotonic() - t0 < 15

    anyio.run(main)


def test_only_apps_the_user_trusts_may_be_on_the_local_network(work, spaces) -> None:
    app = spaces["misc"]  # a Gradio app on 127.0.0.1, named by URL rather than through the Hub

    async def main() -> None:
        async with _stdio(work) as client:
            msg = await Calls(client).error("run_space", {"space": app, "endpoint": "/noop", "inputs": {}})
            assert "private or local address" in msg and "--trust URL" in msg
        async with _stdio(work, "--trust", app) as client:
            assert await Calls(client).ok("run_space", {"space": app, "endpoint": "/noop", "inputs": {}}) == ["ok"]

    anyio.run(main)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http(work) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [SCRIPT, "mcp", "--http", str(port), "--out", str(work["out"])],
        cwd=work["cwd"],
        env={**os.environ},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.2)

        async def main() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as client:
                assert [t.name for t in (await client.list_tools()).tools] == NAMES
                calls = Calls(client)
                out = await calls.ok(
                    "run_space", {"space": "acme/toolbox", "endpoint": "/echo", "inputs": {"text": "hi"}}
                )
                assert out[0]["text"] == {"value": "hi", "type": "str"}
                assert "/echo" in await calls.error("run_space", {"space": "acme/toolbox", "endpoint": "/missing"})
                assert all(TEST_TOKEN not in t for t in calls.texts)

        anyio.run(main)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.stdout is not None
    assert b"Traceback" not in err


def test_stdout_holds_only_mcp_messages(work) -> None:
    proc = subprocess.Popen(
        [SCRIPT, "mcp", "--out", str(work["out"])],
        cwd=work["cwd"],
        env=work["env"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    out, err = proc.communicate(json.dumps(init).encode() + b"\n", timeout=30)
    lines = out.decode().splitlines()
    assert lines and all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)
    assert json.loads(lines[0])["result"]["serverInfo"]["name"] == "spacechain"
    assert proc.returncode == 0 and b"Traceback" not in err


def test_help_is_instant_and_missing_sdk_is_one_line(tmp_path: Path) -> None:
    t0 = time.monotonic()
    proc = subprocess.run([SCRIPT, "mcp", "--help"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and "--http" in proc.stdout and "--allow" in proc.stdout
    assert time.monotonic() - t0 < 5
    code = (
        "import sys\nsys.modules['mcp'] = None\nsys.argv = ['spacechain', 'mcp']\n"
        "from spacechain.agent.cli import main\nmain()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=tmp_path, stdin=subprocess.DEVNULL
    )
    assert_one_error_line(proc, 'pip install "spacechain[mcp]"')
    assert proc.stdout == ""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        proc = subprocess.run([SCRIPT, "mcp", "--http", port], capture_output=True, text=True, timeout=30)
    assert_one_error_line(proc, f"port {port}", "in use")
    proc = subprocess.run(
        [SCRIPT, "mcp", "--allow", str(tmp_path / "nope")], capture_output=True, text=True, timeout=30
    )
    assert_one_error_line(proc, "--allow", "not a folder")


def test_find_alternatives_and_spread_over_mcp(pool_hub, work) -> None:
    async def main() -> None:
        async with _stdio(work) as client:
            calls = Calls(client)
            found = await calls.ok("find_alternatives", {"space": "tri/trellis-3d", "endpoint": "/extract_glb"})
            assert [e["id"] for e in found] == ["tre/trellis-3d", "acme/trellis-lite"]
            assert found[0]["relation"] == "origin" and "calls" in found[0]["health"]
            batch = {"space": "bob/flux-dev", "endpoint": "/generate", "spread": True, "timeout": 90}
            inputs = [{"prompt": f"owl {i}"} for i in range(4)]
            out = await calls.ok("run_space_batch", {**batch, "inputs_list": inputs})
            assert all(isinstance(o, list) and o[0].endswith(".png") for o in out), out
            # A paused Space's call runs on its equivalent, as in the agent's tools.
            moved = await calls.ok(
                "run_space",
                {"space": "bfl/flux-dev", "endpoint": "/generate", "inputs": {"prompt": "a moth"}, "timeout": 90},
            )
            assert moved[0].endswith(".png")

    anyio.run(main)
    served = {name: len(pool_hub.calls(name)) for name in ("text2img@bob", "text2img@ann", "text2img_quota@zed")}
    served["text2img_quota@zoe"] = len(pool_hub.calls("text2img_quota@zoe"))
    # One item on each of the four copies; the two out of ZeroGPU quota moved to paid hardware (bob), as did
    # the paused Space's call.
    assert served == {"text2img@bob": 4, "text2img@ann": 1, "text2img_quota@zed": 1, "text2img_quota@zoe": 1}
