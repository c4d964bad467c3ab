"""Network limits against hostile servers on 127.0.0.1: deadlines and caps for downloads, bounded
reads of answers, the private-address check on every hop and at connect time, malformed answers."""

from __future__ import annotations

import json
import socket
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
from http_support import INFO, gets, png_bytes, posts
from servers import Reply, ScriptedServer, sse

from spacechain.tools import (
    BadAnswer,
    CallTimeout,
    Cancelled,
    Client,
    ConnectionLost,
    HTTPError,
    SpacechainError,
    TooLarge,
    UnsafeURL,
)
from spacechain.tools.cache import CallCache
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


# --------------------------------------------------------------------------- item 5: downloads


def test_endless_download_stops_at_the_call_deadline(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream(delay=0.01))  # ~6 MB/s, forever
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        t0 = time.monotonic()
        with pytest.raises(CallTimeout) as err:
            c.call(url, "x", timeout=2.0)
        elapsed = time.monotonic() - t0
        assert c.records[-1].status == "error" and c.records[-1].error["error"] == "timeout"
    assert 1.5 < elapsed < 6, elapsed  # was: a 300 s read timeout per chunk and no total limit
    assert "ran out" in one_line(err.value) and hostile.hits["/gradio_api/file="] == 1
    assert leftovers(tmp_path / "out") == []  # no partial file


def test_endless_download_stops_at_the_file_cap(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream())  # as fast as loopback goes, forever
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST, max_file_bytes=MiB) as c:
        with pytest.raises(TooLarge) as err:
            c.call(url, "x", timeout=60)
    msg = one_line(err.value)
    assert f"stopped at {MiB} bytes" in msg and "SPACECHAIN_MAX_FILE_BYTES" in msg
    assert leftovers(tmp_path / "out") == []


def test_a_declared_size_over_the_cap_is_refused_before_reading(hostile: Hostile, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPACECHAIN_MAX_FILE_BYTES", "1M")  # the environment sets the cap too
    url = app(hostile, [FILE], hostile.stream(total=64 * MiB, declare=True))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        assert c.http.limits.max_file_bytes == MiB
        with pytest.raises(TooLarge, match="SPACECHAIN_MAX_FILE_BYTES"):
            c.call(url, "x", timeout=60)
    assert leftovers(tmp_path / "out") == []


def test_the_call_cap_counts_all_its_files(hostile: Hostile, tmp_path: Path) -> None:
    two = [FILE, {**FILE, "path": "/tmp/gradio/y/out.bin"}]
    url = app(hostile, two, hostile.stream(total=640 * 1024))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST, max_call_bytes=MiB) as c:
        with pytest.raises(TooLarge) as err:
            c.call(url, "x", timeout=60)
    assert "SPACECHAIN_MAX_CALL_BYTES" in one_line(err.value)
    kept = leftovers(tmp_path / "out")  # the first file is whole and kept; no partial second one
    assert len(kept) == 1 and not kept[0].name.startswith(".") and kept[0].stat().st_size == 640 * 1024
    assert hostile.hits["/gradio_api/file="] >= 2


def test_the_call_cap_leaves_single_files_alone(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream(total=640 * 1024))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST, max_call_bytes=MiB) as c:
        [path] = c.call(url, "x", timeout=60)
        [again] = c.call(url, "x", timeout=60)  # the cap is per call, not per client
    assert Path(path).stat().st_size == 640 * 1024 and Path(again).is_file()


def test_three_thousand_outputs_are_refused_before_any_download(hostile: Hostile, tmp_path: Path) -> None:
    many = [{**FILE, "path": f"/tmp/gradio/{i}/out.bin"} for i in range(3000)]
    url = app(hostile, many, hostile.stream(total=10))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        t0 = time.monotonic()
        with pytest.raises(TooLarge) as err:
            c.call(url, "x", timeout=60)
    msg = one_line(err.value)
    assert "3000 files" in msg and "256" in msg and "SPACECHAIN_MAX_FILES" in msg
    assert time.monotonic() - t0 < 10 and "/gradio_api/file=" not in hostile.hits
    assert leftovers(tmp_path / "out") == []


def test_a_cancelled_download_leaves_no_partial_file(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream(delay=0.01))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        job = c.submit(url, "x", timeout=120)
        deadline = time.monotonic() + 10
        while not leftovers(tmp_path / "out") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(tmp_path / "out"), "the download never started"
        job.cancel()
        t0 = time.monotonic()
        with pytest.raises(Cancelled) as err:
            job.result(10)
        assert time.monotonic() - t0 < 3  # cut at once, not after the next read timeout
    one_line(err.value)
    assert leftovers(tmp_path / "out") == []


def test_bad_limit_settings_are_one_line(monkeypatch) -> None:
    monkeypatch.setenv("SPACECHAIN_MAX_FILES", "lots")
    with pytest.raises(SpacechainError, match="SPACECHAIN_MAX_FILES"):
        Client(token=False)
    monkeypatch.delenv("SPACECHAIN_MAX_FILES")
    with pytest.raises(SpacechainError, match="max_files must be a positive"):
        Client(token=False, max_files=0)
    monkeypatch.setenv("SPACECHAIN_MAX_CALL_BYTES", "3G")
    with Client(token=False, max_files=9) as c:
        assert (c.http.limits.max_call_bytes, c.http.limits.max_files) == (3 << 30, 9)


# --------------------------------------------------------------------------- item 6: bounded reads


def peak_bytes(fn: Callable[[], Any]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()
        error = None
    except BaseException as exc:  # returned for the caller's assertions
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "declared"])
def test_a_64_mib_info_body_is_refused_in_bounded_memory(hostile: Hostile, tmp_path: Path, declare: bool) -> None:
    hostile.routes["/gradio_api/info"] = hostile.stream(
        first=b'{"named_endpoints": {"',
        chunk=b"a" * 65536,
        total=64 * MiB,
        content_type="application/json",
        declare=declare,
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        error, peak = peak_bytes(lambda: c.schema(hostile.url))
    assert isinstance(error, TooLarge), error
    assert "more than" in one_line(error)
    assert peak < 24 * MiB, peak  # the whole body read and parsed cost 5-10× its 64 MiB


def test_a_huge_error_body_is_read_only_in_part(hostile: Hostile, tmp_path: Path) -> None:
    hostile.routes["/gradio_api/info"] = hostile.stream(
        chunk=b"e" * 65536, total=64 * MiB, status=500, content_type="text/plain"
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        error, peak = peak_bytes(lambda: c.schema(hostile.url))
    assert isinstance(error, HTTPError) and error.status == 500, error
    assert len(one_line(error)) < 400 and peak < 4 * MiB, peak


def test_an_endless_event_line_is_refused_in_bounded_memory(hostile: Hostile, tmp_path: Path) -> None:
    app(hostile, [])
    hostile.routes["/gradio_api/call/x/e1"] = hostile.stream(
        first=b'event: complete\ndata: ["', chunk=b"a" * 65536, content_type="text/event-stream"
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        error, peak = peak_bytes(lambda: c.call(hostile.url, "x", timeout=60))
    assert isinstance(error, TooLarge) and "result stream" in one_line(error), error
    assert peak < 48 * MiB, peak  # bounded by the 16 MiB line cap, not by the endless body


def test_many_small_data_lines_are_one_capped_event(hostile: Hostile, tmp_path: Path) -> None:
    app(hostile, [])
    lines = (b"data: " + b"1" * 1000 + b"\n") * 64  # each line is small; together they pass the cap
    hostile.routes["/gradio_api/call/x/e1"] = hostile.stream(
        first=b"event: complete\n", chunk=lines, content_type="text/event-stream"
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(TooLarge, match="one event"):
            c.call(hostile.url, "x", timeout=60)


def test_events_split_anywhere_still_parse(hostile: Hostile, tmp_path: Path) -> None:
    """CRLF line ends, a CR cut from its LF between chunks, comments and heartbeats."""
    body = b': comment\r\nevent: heartbeat\r\ndata: null\r\n\r\nevent: complete\r\ndata: ["ok", 2]\r\n\r\n'

    def dribble(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()
        h.close_connection = True
        for i in range(len(body)):
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()

    app(hostile, [])
    hostile.routes["/gradio_api/call/x/e1"] = dribble
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        assert c.call(hostile.url, "x", timeout=60) == ["ok", 2]


# --------------------------------------------------------------------------- item 7: every hop checked


@pytest.fixture
def intranet(monkeypatch):
    """A server on 127.0.0.1 the user never named, also reachable as http://intranet.test:<port>."""
    srv = ScriptedServer().start()
    srv.add("/", Reply(200, body={"secret": True}))
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real("127.0.0.1" if host == "intranet.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield srv
    srv.stop()


@pytest.mark.parametrize("hop", ["info", "call", "poll", "upload"])
@pytest.mark.parametrize("target", ["literal", "name"])
def test_api_requests_never_follow_redirects_into_the_local_network(
    scripted: ScriptedServer, intranet, tmp_path: Path, hop: str, target: str
) -> None:
    port = intranet.url.rsplit(":", 1)[1]
    to = f"http://127.0.0.1:{port}/steal" if target == "literal" else f"http://intranet.test:{port}/steal"
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/call/img", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/img/e1", sse(("complete", ["ok"])))
    scripted.add("/gradio_api/upload", Reply(200, body=["/tmp/gradio/a/in.png"]))
    path = {
        "info": "/gradio_api/info",
        "call": "/gradio_api/call/img",
        "poll": "/gradio_api/call/img/e1",
        "upload": "/gradio_api/upload",
    }[hop]
    scripted.script[path] = [Reply(307, {"location": to})]
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        with pytest.raises(UnsafeURL) as err:
            c.call(scripted.url, "img", {"image": str(image)}, timeout=30)
        assert "private or local address" in one_line(err.value)
        if hop != "info":  # the session is free again
            scripted.script[path] = [
                {
                    "call": Reply(200, body={"event_id": "e1"}),
                    "poll": sse(("complete", ["ok"])),
                    "upload": Reply(200, body=["/tmp/gradio/a/in.png"]),
                }[hop]
            ]
            assert c.call(scripted.url, "img", {"image": str(image)}, timeout=30) == ["ok"]
    assert intranet.requests == []


def test_the_named_app_itself_may_be_on_loopback(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("complete", ["fine"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        assert c.call(scripted.url, "x", timeout=30) == ["fine"]


# --------------------------------------------------------------------------- item 10: one resolution


@pytest.fixture
def guarded_connects(monkeypatch):
    """Every outgoing TCP connect, recorded; anything but loopback is refused without touching the network."""
    seen: list[tuple[str, int]] = []

    class Guarded(socket.socket):
        def connect(self, address):
            seen.append((address[0], address[1]))
            if address[0] not in ("127.0.0.1", "::1"):
                raise ConnectionRefusedError(111, "test: no network here")
            return super().connect(address)

    monkeypatch.setattr(socket, "socket", Guarded)
    return seen


def test_a_rebinding_name_never_reaches_loopback(
    scripted: ScriptedServer, monkeypatch, guarded_connects, tmp_path: Path
) -> None:
    """rebind.test answers a public address first and 127.0.0.1 afterwards: the old check resolved it,
    saw the public address, and httpx resolved it again to connect to loopback."""
    with ScriptedServer() as victim:
        victim.add("/", Reply(200, {"content-type": "image/png"}, b"secret"))
        port = int(victim.url.rsplit(":", 1)[1])
        real, lookups = socket.getaddrinfo, []

        def rebinding(host, *args, **kwargs):
            if host != "rebind.test":
                return real(host, *args, **kwargs)
            lookups.append(host)
            ip = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        scripted.add("/gradio_api/info", Reply(200, body=INFO))
        with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
            with pytest.raises((UnsafeURL, ConnectionLost)) as err:
                c.call(scripted.url, "img", {"image": f"http://rebind.test:{port}/x.png"}, timeout=30)
        one_line(err.value)
        assert lookups and victim.requests == []
        assert ("127.0.0.1", port) not in guarded_connects
        assert ("93.184.216.34", port) in guarded_connects  # the checked address is the one connected to


def test_an_unresolvable_name_is_an_error_not_a_pass(scripted: ScriptedServer, monkeypatch, tmp_path: Path) -> None:
    real = socket.getaddrinfo

    def nxdomain(host, *args, **kwargs):
        if host == "nowhere.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(ConnectionLost) as err:
            c.call(scripted.url, "img", {"image": "http://nowhere.test/x.png"}, timeout=30)
    assert "nowhere.test" in one_line(err.value)
    assert posts(scripted, "/gradio_api/upload") == []


@pytest.fixture
def tls_localhost(tmp_path: Path, monkeypatch):
    """An https server on 127.0.0.1 with a self-signed certificate for `localhost`, trusted through
    SSL_CERT_FILE; yields its port."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    srv = ScriptedServer().start()
    srv.add("/gradio_api/info", Reply(200, body=INFO))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd = srv._httpd
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    yield httpd.server_address[1]
    srv.stop()


def test_tls_is_verified_against_the_name_not_the_checked_address(
    tls_localhost: int, monkeypatch, tmp_path: Path
) -> None:
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        assert "/x" in c.schema(f"https://localhost:{tls_localhost}").endpoints
    real, looked = socket.getaddrinfo, []

    def other(host, *args, **kwargs):
        looked.append(host)
        return real("127.0.0.1" if host == "other.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", other)
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:  # same address, a name the cert does not hold
        with pytest.raises(ConnectionLost) as err:
            c.schema(f"https://other.test:{tls_localhost}")
    # Resolved and connected, then the handshake failed: the certificate is for localhost only.
    assert "ConnectError" in one_line(err.value) and "other.test" in looked


# --------------------------------------------------------------------------- item 9: malformed answers


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, body={"event_id": 123}),
        Reply(200, body={}),
        Reply(200, body=["e1"]),
        Reply(200, {"content-type": "text/html"}, "<html>hello</html>"),
        Reply(200, body={"event_id": ""}),
        Reply(200, body={"event_id": "../../info?x="}),
        Reply(200, body="[" * 50000 + "]" * 50000),
    ],
    ids=["numeric", "missing", "list", "html", "empty", "path", "deep"],
)
def test_a_malformed_submit_answer_is_one_line_and_frees_the_session(
    scripted: ScriptedServer, tmp_path: Path, answer: Reply
) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/call/x", answer, Reply(200, body={"event_id": "e2"}))
    scripted.add("/gradio_api/call/x/e2", sse(("complete", ["next"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "x", session="s", timeout=30)
        assert "event id" in one_line(err.value)
        assert c.records[-1].status == "error" and c.records[-1].error["error"] == "bad_answer"  # in the manifest
        t0 = time.monotonic()
        assert c.call(scripted.url, "x", session="s", timeout=5) == ["next"]  # not waiting for a lock
        assert time.monotonic() - t0 < 4


DEEP = {"named_endpoints": {"/x": {"parameters": [{"type": json.loads("[" * 500 + "]" * 500)}]}}}


@pytest.mark.parametrize(
    "info",
    [
        [1, 2],
        "just text",
        {"named_endpoints": ["/x"]},
        {"named_endpoints": {"/x": []}},
        {"named_endpoints": {"/x": {"parameters": {"a": 1}}}},
        {"named_endpoints": {"/x": {"parameters": [{"label": 5, "parameter_name": "a"}]}}},
        {"named_endpoints": {"/x": {"parameters": [{"python_type": "str"}]}}},
        {"named_endpoints": {"/x": {"parameters": [{"type": {"enum": 3}}]}}},
        {"named_endpoints": {"/x": {"returns": [{"python_type": {"type": ["str"]}}]}}},
        DEEP,
        "[" * 50000 + "]" * 50000,
    ],
    ids=[
        "list",
        "text",
        "endpoints-list",
        "body-list",
        "params-dict",
        "label-int",
        "pytype-str",
        "enum-int",
        "return-type-list",
        "deep",
        "too-deep-to-parse",
    ],
)
def test_a_malformed_info_is_one_line(scripted: ScriptedServer, tmp_path: Path, info: Any) -> None:
    body = info if isinstance(info, str) and info.startswith("[") else json.dumps(info)
    scripted.add("/gradio_api/info", Reply(200, {"content-type": "application/json"}, body))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "x", timeout=30)
        assert "Gradio" in one_line(err.value)
        scripted.script["/gradio_api/info"] = [Reply(200, body=INFO)]
        scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
        scripted.add("/gradio_api/call/x/e1", sse(("complete", ["fixed"])))
        assert c.call(scripted.url, "x", timeout=30) == ["fixed"]  # nothing half-parsed was kept


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, body={}),
        Reply(200, body=[]),
        Reply(200, body=[1]),
        Reply(200, body=[["a"]]),
        Reply(200, {"content-type": "text/plain"}, "not json"),
    ],
    ids=["dict", "empty", "number", "nested", "text"],
)
def test_a_malformed_upload_answer_is_one_line(scripted: ScriptedServer, tmp_path: Path, answer: Reply) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/upload", answer, Reply(200, body=["/tmp/gradio/a/in.png"]))
    scripted.add("/gradio_api/call/img", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/img/e1", sse(("complete", ["ok"])))
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "img", {"image": str(image)}, session="s", timeout=30)
        assert "server paths" in one_line(err.value) and posts(scripted, "/gradio_api/call/img") == []
        assert c.call(scripted.url, "img", {"image": str(image)}, session="s", timeout=5) == ["ok"]


@pytest.mark.parametrize(
    "stream",
    [
        Reply(200, {"content-type": "application/json"}, {"msg": "complete"}),
        sse(("complete", json.loads("[" * 150 + "]" * 150))),
    ],
    ids=["not-an-event-stream", "deep-event"],
)
def test_a_malformed_result_stream_is_one_line(scripted: ScriptedServer, tmp_path: Path, stream: Reply) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}), Reply(200, body={"event_id": "e2"}))
    scripted.add("/gradio_api/call/x/e1", stream)
    scripted.add("/gradio_api/call/x/e2", sse(("complete", ["next"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "x", session="s", timeout=30)
        one_line(err.value)
        assert c.call(scripted.url, "x", session="s", timeout=5) == ["next"]


def test_a_malformed_config_only_turns_the_cache_off(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add(
        "/config",
        Reply(
            200,
            body={"components": 5, "dependencies": [{"api_name": "x", "inputs": [[1]], "outputs": [{"a": 1}]}, "junk"]},
        ),
    )
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("complete", ["ok"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST, cache=CallCache(tmp_path / "cache")) as c:
        assert c.call(scripted.url, "x", timeout=30) == ["ok"]
        assert c.call(scripted.url, "x", timeout=30) == ["ok"]
    assert len(posts(scripted, "/gradio_api/call/x")) == 2 and gets(scripted, "/config")
