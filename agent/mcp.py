"""`spacechain mcp`: the toolset (`spacechain.tools.toolset`) served to coding agents over MCP, on the
official SDK's low-level Server. The specs stay the one source of tool names and inputs; this adapter adds
what an outside agent needs: a `timeout` that hands back a handle before the client gives up on the call,
progress notifications while it waits, one-line tool errors, an upload sandbox, text results as plain text and
the others as structured content.

Imported only by the `mcp` command: the SDK is an optional extra."""

from __future__ import annotations

import copy
import json
import logging
import math
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, cast
from urllib.parse import urlsplit

import anyio
import mcp_types as types
from mcp.server import Server

from spacechain import __version__
from spacechain.tools import Cancelled, Client, Job, JobUpdate, SpacechainError, UnsafeURL, UploadRefused
from spacechain.tools.nested import is_url
from spacechain.tools.toolset import MAX_WAIT_S, TOOLSET, ToolContext, ToolSpec

__all__ = ["DEFAULT_TIMEOUT_S", "Background", "McpContext", "SpacechainMcp", "UploadGuard", "mcp_client", "serve"]

# MCP clients give up on a call after 60–120 s: answer before that, with a handle if the job still runs.
DEFAULT_TIMEOUT_S = 50.0
PROGRESS_EVERY_S = 1.0
WAITING = ("run_space", "run_space_batch", "run_pipeline")

_TIMEOUT = {
    "type": "number",
    "description": "seconds to wait (default 50, max 600); past it the result is {'status': 'running', "
    "'event_id': ...} and the job keeps running: collect it with poll_result",
    "default": DEFAULT_TIMEOUT_S,
}
_HANDLE_NOTE = (
    " Waits at most `timeout` seconds (default 50): past it, returns {'status': 'running', 'event_id': ...} "
    "while the job keeps running (one handle for the whole job); collect it with poll_result(event_id)."
)
# What an outside agent needs to know on top of the specs' wording (written for the built-in agent).
_NOTES = {
    "upload_file": (
        "Only files the user gave or files produced in this run may be uploaded.",
        "Only files inside the server's allowed folders (spacechain mcp --allow DIR; the working directory "
        "by default) or files this server produced may be uploaded.",
    ),
    "poll_result": (
        "Wait up to `timeout` seconds for a submitted call.",
        "Wait up to `timeout` seconds (default 50) for a call_space job, or for the handle run_space, "
        "run_space_batch or run_pipeline returned; `space` and `endpoint` may be left out.",
    ),
}
INSTRUCTIONS = (
    "spacechain calls Hugging Face Gradio Spaces. Find one with search_spaces, read its endpoints with "
    "get_space_api, then run_space (files as local paths; outputs come back as absolute paths you can pass "
    "on). Stateful Spaces: use the same `session` name for every call of one chain. Many items: "
    "run_space_batch or run_pipeline. Long jobs return {'status': 'running', 'event_id'}: call poll_result."
)


def describe(spec: ToolSpec) -> str:
    text = spec.description
    old, new = _NOTES.get(spec.name, ("", ""))
    if old:
        text = text.replace(old, new) if old in text else f"{text} {new}"
    return text + (_HANDLE_NOTE if spec.name in WAITING else "")


def input_schema(spec: ToolSpec) -> dict:
    """The spec's inputs, plus `timeout` for the waiting tools; poll_result needs only the event id."""
    schema = copy.deepcopy(spec.parameters())
    props = schema["properties"]
    if spec.name in WAITING:
        props["timeout"] = dict(_TIMEOUT)
    if spec.name == "poll_result":
        for name in ("space", "endpoint"):
            props[name] = {**props[name], "description": f"{props[name]['description']} (optional)"}
        props["timeout"] = {**props["timeout"], "default": DEFAULT_TIMEOUT_S}
        schema["required"] = [n for n in schema["required"] if n not in ("space", "endpoint")]
    return schema


class _Latest:
    update: JobUpdate | None = None

    def __call__(self, update: JobUpdate) -> None:
        self.update = update


class Background:
    """One tool call (a run_space, a whole batch or pipeline) in its own thread, polled like a Job."""

    def __init__(self, name: str):
        self.event_id = f"{name}-{secrets.token_hex(6)}"
        self.jobs: list[Job] = []  # every Space job it submitted, for progress messages
        self.cancelled = False
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def start(self, fn: Callable[[], Any]) -> Background:
        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:  # handed to whoever collects it
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name=f"mcp-{self.event_id}", daemon=True).start()
        return self

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def cancel(self) -> None:
        """The client cancelled the tool call: its Space jobs are cancelled and it submits no more."""
        self.cancelled = True
        for job in list(self.jobs):
            job.cancel()


class McpContext(ToolContext):
    """Submissions keep their latest update (progress messages) and, inside a Background, count as its jobs."""

    def __init__(self, client: Client, use_cache: bool = True):
        super().__init__(client, use_cache=use_cache)
        self.latest: dict[str, _Latest] = {}
        self.owner: Background | None = None

    def scoped(self, owner: Background) -> McpContext:
        ctx = copy.copy(self)  # shares the client, the jobs and the updates
        ctx.owner = owner
        return ctx

    def submit(
        self, space: str, endpoint: str, inputs: Any, session: str | None = None, moved: dict | None = None
    ) -> Job:
        if self.owner is not None and self.owner.cancelled:
            raise Cancelled(f"{space}: not submitted, the tool call was cancelled.")
        latest = _Latest()
        job = self.client.submit(
            space, endpoint, inputs, session=session, use_cache=self.use_cache, on_update=latest, moved=moved
        )
        self.jobs[job.event_id] = job
        self.latest[job.event_id] = latest
        if self.owner is not None:
            self.owner.jobs.append(job)
            if self.owner.cancelled:  # cancelled while this one was being submitted
                job.cancel()
        return job

    def status(self, entry: Job | Background) -> str:
        """One line for a progress notification: state, queue, partial output; a batch's count of calls."""
        if isinstance(entry, Background):
            jobs = list(entry.jobs)
            if len(jobs) <= 1:  # a run_space (or a batch of one): that call's own state
                return self.status(jobs[0]) if jobs else "starting"
            running = [j for j in jobs if not j.done()]
            head = f"{len(jobs) - len(running)}/{len(jobs)} calls done"
            return f"{head}; {self.status(running[0])}" if running else head
        latest = self.latest.get(entry.event_id)
        u = latest.update if latest else None
        if u is None:
            return "submitted"
        parts = [u.state]
        if u.note and u.state == "retrying":
            parts.append(u.note)
        if u.queue_size is not None and u.state == "waiting":
            parts.append(f"queue {u.queue_size}")
        if u.eta_s is not None and math.isfinite(u.eta_s):
            parts.append(f"eta {u.eta_s:.0f} s")
        if u.partial:
            parts.append(f"partial: {' '.join(str(u.partial[0]).split())[:120]}")
        return ", ".join(parts)


class UploadGuard:
    """Uploads only from the allowed folders and files this server's calls produced."""

    def __init__(self, client: Client, allow: list[Path]):
        self.client = client
        self.allow = [Path(a).expanduser().resolve() for a in allow]

    def __call__(self, real_path: str) -> None:
        path = Path(real_path)
        if any(path.is_relative_to(folder) for folder in self.allow):
            return
        if real_path in self.produced():
            return
        folders = ", ".join(str(a) for a in self.allow)
        raise UploadRefused(
            f"Refused to upload {real_path[:200]}: only files inside {folders} (spacechain mcp --allow DIR) "
            "or files this server produced may be uploaded; copy the file there or restart with --allow."
        )

    def produced(self) -> set[str]:
        return {
            str(Path(f["local"]).resolve())
            for rec in list(self.client.records)
            for f in rec.files
            if f.get("direction") == "out" and f.get("local")
        }


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class SpacechainMcp:
    """The MCP server: the toolset's tools over one client."""

    def __init__(self, client: Client, use_cache: bool = True):
        self.client = client
        self.ctx = McpContext(client, use_cache=use_cache)
        self.specs = {spec.name: spec for spec in TOOLSET}
        self.tools = [types.Tool(name=s.name, description=describe(s), input_schema=input_schema(s)) for s in TOOLSET]
        self.server: Server = Server(
            "spacechain",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        space = (params.arguments or {}).get("space")
        try:
            value = await self.dispatch(ctx, params.name, dict(params.arguments or {}))
            return self._result(value)
        except UnsafeURL as exc:
            # The user, not the model, names the apps on their network: the hint only when the refused URL is
            # the app the call named, never for a URL a Space sent back.
            origin = urlsplit(space).netloc if isinstance(space, str) and is_url(space) else ""
            if origin and origin in str(exc):
                return self._error(f"{exc} Or restart the server with `spacechain mcp --trust URL` for that app.")
            return self._error(str(exc))
        except SpacechainError as exc:
            return self._error(str(exc))
        except ValueError as exc:  # NaN or infinity in a Space's output
            return self._error(f"{params.name}: the result is not valid JSON ({exc}).")
        except Exception as exc:  # a bug must cost one call, never the server
            logging.getLogger("spacechain.mcp").error("%s failed: %r", params.name, exc)
            return self._error(f"{params.name} failed: {type(exc).__name__}: {exc}")

    def _result(self, value: Any) -> types.CallToolResult:
        """Text as itself (an API listing, an event id); anything else as its JSON in the text item (what
        a model reads) and as `structuredContent`, which is a JSON object: a list comes as {"result": [...]},
        as the SDK's own servers send it."""
        if isinstance(value, str):
            return types.CallToolResult(content=[types.TextContent(type="text", text=self._redact(value))])
        text = self._redact(json.dumps(value, ensure_ascii=False, allow_nan=False, default=str))
        structured = json.loads(text)  # the token redacted in it too
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=structured if isinstance(structured, dict) else {"result": structured},
        )

    def _error(self, message: str) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=self._redact(one_line(message)))], is_error=True
        )

    def _redact(self, text: str) -> str:
        """The token never leaves in a result, even when a Space echoes it back."""
        token = self.client.http.policy.token
        return text.replace(token, "hf_***") if token else text

    async def dispatch(self, ctx: Any, name: str, args: dict[str, Any]) -> Any:
        spec = self.specs.get(name)
        if spec is None:
            raise SpacechainError(f"Unknown tool {name!r}; the tools are {', '.join(self.specs)}.")
        timeout = _seconds(args.pop("timeout", None)) if name in WAITING or name == "poll_result" else 0.0
        if name in WAITING:
            spec.bind((), args)  # a wrong argument is an error now, not a handle that fails later
            handle = Background(name)
            scoped = self.ctx.scoped(handle)
            handle.start(lambda: spec.call(scoped, **args))
            self.ctx.jobs[handle.event_id] = cast(Job, handle)  # poll_result finds it like any job
            try:
                await self._wait(ctx, handle, timeout)
            except anyio.get_cancelled_exc_class():
                # The client cancelled before it got a handle: nobody could collect the result, so the
                # GPU time is not spent. (Cancelling a poll_result only stops that wait.)
                handle.cancel()
                raise
            if not handle.done():
                return {
                    "status": "running",
                    "event_id": handle.event_id,
                    "hint": "the job keeps running; call poll_result with this event_id",
                }
            return handle.result()
        if name == "poll_result":
            args.setdefault("space", "")
            args.setdefault("endpoint", "")
            event_id = args.get("event_id")
            entry = self.ctx.jobs.get(event_id) if isinstance(event_id, str) else None
            if entry is not None:
                await self._wait(ctx, entry, timeout)
            args["timeout"] = 0  # done now, or the handle again
        if name != "call_space":
            return await anyio.to_thread.run_sync(lambda: spec.call(self.ctx, **args))
        owner = Background(name)  # holds the job it submits, for a cancel
        scoped = self.ctx.scoped(owner)
        try:
            return await anyio.to_thread.run_sync(lambda: spec.call(scoped, **args))
        except anyio.get_cancelled_exc_class():
            owner.cancel()  # the thread has ended (it is waited for): its job, if any, is submitted
            raise

    async def _wait(self, ctx: Any, entry: Job | Background, timeout: float) -> None:
        """Wait for `entry` up to `timeout`, with a progress notification about every second (sent only
        when the client gave a progress token)."""
        t0 = time.monotonic()
        next_report = 0.0
        while not entry.done():
            elapsed = time.monotonic() - t0
            if elapsed >= timeout:
                return
            if elapsed >= next_report:
                next_report = elapsed + PROGRESS_EVERY_S
                try:
                    await ctx.session.report_progress(round(elapsed, 2), None, self._redact(self.ctx.status(entry)))
                except Exception:  # a gone client must not end the wait early with an error
                    pass
            await anyio.sleep(min(0.1, max(timeout - elapsed, 0.0)))


def _seconds(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SpacechainError(f"timeout must be a number of seconds (0 to {MAX_WAIT_S:g}); got {value!r}.")
    return min(float(value), MAX_WAIT_S)


def mcp_client(out_dir: Path, allow: list[Path], cache: Any, wake: float, trust: Sequence[str] = ()) -> Client:
    """The server's one client. URLs in tool calls come from the agent's model, not from the user: only the
    origins the user gave with --trust may be on a private network. Uploads only from the `allow` folders
    and the server's own outputs."""
    client = Client(out_dir=out_dir, cache=cache, wake_timeout=wake, trust_named_urls=False)
    for url in trust:
        client.trust(url)
    client.upload_guard = UploadGuard(client, allow)
    return client


def serve(client: Client, *, use_cache: bool, http_port: int | None = None) -> None:
    """Serve until stdin closes (stdio) or the process is stopped (--http). Logs go to stderr only."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="spacechain mcp: %(message)s")
    app = SpacechainMcp(client, use_cache=use_cache)
    if http_port is None:
        from mcp.server.stdio import stdio_server

        async def run_stdio() -> None:
            async with stdio_server() as (read, write):
                await app.server.run(read, write, app.server.create_initialization_options())

        anyio.run(run_stdio)
        return
    import uvicorn

    asgi = app.server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    config = uvicorn.Config(asgi, host="127.0.0.1", port=http_port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)
