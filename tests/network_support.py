"""Shared by the network-limit tests: a hostile threaded HTTP server on 127.0.0.1 that writes its own
answers, the default "nothing private" environment, and small helpers for what a failed call leaves."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
from http_support import INFO

from spacechain.tools.http import RetryPolicy

FAST = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02)
MiB = 1 << 20
FILE = {"path": "/tmp/gradio/x/out.bin", "meta": {"_type": "gradio.FileData"}, "orig_name": "out.bin"}


@pytest.fixture(autouse=True)
def no_private(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests are about the default: only origins the user named may be on a private network.
    monkeypatch.delenv("SPACECHAIN_ALLOW_PRIVATE_URLS", raising=False)
    for name in ("SPACECHAIN_MAX_FILE_BYTES", "SPACECHAIN_MAX_CALL_BYTES", "SPACECHAIN_MAX_FILES"):
        monkeypatch.delenv(name, raising=False)


class Hostile:
    """A threaded HTTP server on 127.0.0.1 whose routes (longest path prefix wins) write their own
    answers: endless bodies, huge ones, anything. `hits` counts requests per route."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.hits: dict[str, int] = {}
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                matches = [p for p in server.routes if self.path.startswith(p)]
                if not matches:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                prefix = max(matches, key=len)
                server.hits[prefix] = server.hits.get(prefix, 0) + 1
                try:
                    server.routes[prefix](self)
                except OSError:  # the client hung up: what a limit is for
                    self.close_connection = True

            do_GET = do_POST = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # ---- route makers
    def json(self, body: Any, status: int = 200, content_type: str = "application/json") -> Callable:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()

        def reply(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("content-type", content_type)
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        return reply

    def events(self, *events: tuple[str, Any]) -> Callable:
        return self.json(
            b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events),
            content_type="text/event-stream",
        )

    def stream(
        self,
        first: bytes = b"",
        chunk: bytes = b"x" * 65536,
        total: int | None = None,
        delay: float = 0.0,
        status: int = 200,
        content_type: str = "application/octet-stream",
        declare: bool = False,
    ) -> Callable:
        """`first`, then `chunk` repeated until `total` bytes (None: forever), closing the connection
        to end the body (or declaring its length with `declare`)."""

        def reply(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("content-type", content_type)
            if declare and total is not None:
                h.send_header("content-length", str(total))
            else:
                h.send_header("connection", "close")
            h.end_headers()
            h.close_connection = True
            h.wfile.write(first)
            sent = len(first)
            while (total is None or sent < total) and not self.stopping.is_set():
                h.wfile.write(chunk)
                sent += len(chunk)
                if delay:
                    time.sleep(delay)

        return reply


@pytest.fixture
def hostile():
    srv = Hostile()
    yield srv
    srv.stop()


def app(srv: Hostile, outputs: list, file_route: Callable | None = None) -> str:
    """`srv` as a Gradio app whose /x returns `outputs` and whose files are served by `file_route`."""
    srv.routes["/gradio_api/info"] = srv.json(INFO)
    srv.routes["/gradio_api/call/x"] = srv.json({"event_id": "e1"})
    srv.routes["/gradio_api/call/x/e1"] = srv.events(("complete", outputs))
    if file_route:
        srv.routes["/gradio_api/file="] = file_route
    return srv.url


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg
