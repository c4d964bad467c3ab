"""Process and HTTP-server helpers for the test fixtures (stdlib only, 127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the OS picks it; tiny race, fine for tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process(
    args: list[str], env: dict[str, str] | None = None, ready_timeout: float = 60
) -> tuple[subprocess.Popen, dict]:
    """Start `args` in its own process group and return (proc, first stdout line parsed as JSON).

    The child signals readiness by printing one JSON line. stderr goes to a temp file (not a pipe)
    so a chatty child can never block on a full pipe; it is quoted in the error if startup fails.
    """
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
    )  # own group: stop_process kills children too
    proc._spacechain_stderr = err  # type: ignore[attr-defined]
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        # Keep draining stdout after the first line for the same reason as stderr above.
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    try:
        line = lines.get(timeout=ready_timeout)
        if not line:
            raise RuntimeError(f"exited with code {proc.wait()} before becoming ready")
        return proc, json.loads(line)
    except Exception as exc:  # timeout, early exit or bad JSON: clean up and show why
        stop_process(proc)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-4000:]
        raise RuntimeError(f"{args!r} failed to start: {exc!r}\n--- stderr ---\n{tail}") from exc


def stop_process(proc: subprocess.Popen, grace: float = 5) -> None:
    """SIGTERM the process group of `proc` (by its PID), then SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(proc.pid, sig)  # pgid == pid thanks to start_new_session=True
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    err = getattr(proc, "_spacechain_stderr", None)
    if err is not None:
        err.close()


# --------------------------------------------------------------------------- ScriptedServer


@dataclass
class Reply:
    """One scripted response. `delay` sleeps before answering (for timeout tests). `drop` announces a
    longer body than it sends and then closes the connection (a server dying mid-stream)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | dict | list = b""
    delay: float = 0.0
    drop: bool = False


def sse(*events: tuple[str, Any]) -> Reply:
    """A gradio-style SSE reply, e.g. sse(("complete", ["ok"]))."""
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return Reply(200, {"content-type": "text/event-stream; charset=utf-8"}, body)


@dataclass
class Recorded:
    method: str
    path: str  # includes the query string
    headers: dict[str, str]  # lower-cased names
    body: bytes


class ScriptedServer:
    """Threaded HTTP server on 127.0.0.1 answering from per-path-prefix scripts.

    script = {"/gradio_api/call/": [Reply(429), Reply(503), sse(("complete", ["ok"]))]}
    Each request takes the next reply of the longest matching prefix; the last reply repeats.
    Unmatched paths get 404. Every request is recorded in `.requests`.
    """

    def __init__(self, script: dict[str, list[Reply]] | None = None) -> None:
        self.script: dict[str, list[Reply]] = {k: list(v) for k, v in (script or {}).items()}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "call start() first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, prefix: str, *replies: Reply) -> None:
        with self._lock:
            self.script.setdefault(prefix, []).extend(replies)

    def requests_to(self, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def _next(self, path: str) -> Reply:
        with self._lock:
            matches = [p for p in self.script if path.startswith(p) and self.script[p]]
            if not matches:
                return Reply(404, {"content-type": "application/json"}, {"detail": "Not Found"})
            replies = self.script[max(matches, key=len)]
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def start(self) -> ScriptedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    server.requests.append(rec)
                reply = server._next(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body
                headers = {k.lower(): v for k, v in reply.headers.items()}
                if isinstance(data, (dict, list)):
                    data = json.dumps(data)
                    headers.setdefault("content-type", "application/json")
                if isinstance(data, str):
                    data = data.encode()
                self.send_response(reply.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data) + (1000 if reply.drop else 0)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                if reply.drop:
                    self.wfile.flush()
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # Short poll interval: shutdown() waits for one poll, and tests stop servers often.
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
