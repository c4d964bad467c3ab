"""The private-address check against servers on 127.0.0.1: on every hop (redirects included) and at
connect time (one resolution, so a rebinding name never reaches loopback; TLS checked against the name)."""

from __future__ import annotations

import socket
from pathlib import Path

import network_support
import pytest
from http_support import INFO, png_bytes, posts
from network_support import FAST, one_line
from servers import Reply, ScriptedServer, sse

from spacechain.tools import Client, ConnectionLost, UnsafeURL

no_private = network_support.no_private  # the default: only origins the user named may be private


# --------------------------------------------------------------------------- every hop checked


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


# --------------------------------------------------------------------------- one resolution at connect time


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
