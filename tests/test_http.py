"""Retries and the token policy, against scripted Gradio-shaped servers on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from http_support import INFO, gets, gradio_like, png_bytes, posts
from servers import Reply, ScriptedServer, sse

from spacechain.tools import Client, ConnectionLost, QueueFull, RateLimited, SpaceError
from spacechain.tools.errors import HTTPError
from spacechain.tools.http import RetryPolicy

FAST = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.02)
FILE_META = {"_type": "gradio.FileData"}
QUEUE_FULL = {"detail": "Queue is full! Please try again."}


@pytest.fixture
def anon(tmp_path: Path):
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        yield c


# --------------------------------------------------------------------------- retries


def test_not_accepted_submissions_are_retried(scripted: ScriptedServer, anon: Client) -> None:
    gradio_like(scripted)
    scripted.add("/gradio_api/call/x", Reply(429), Reply(503, body=QUEUE_FULL), Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("complete", ["ok"])))
    assert anon.call(scripted.url, "x") == ["ok"]
    assert len(posts(scripted, "/gradio_api/call/x")) == 3
    assert len(gets(scripted, "/gradio_api/call/x/e1")) == 1


def test_server_error_on_submit_is_not_retried(scripted: ScriptedServer, anon: Client) -> None:
    gradio_like(scripted)
    scripted.add("/gradio_api/call/x", Reply(500, body="Internal Server Error"))
    with pytest.raises(HTTPError) as err:
        anon.call(scripted.url, "x")
    assert err.value.status == 500 and "\n" not in str(err.value)
    assert len(posts(scripted, "/gradio_api/call/x")) == 1


def test_rate_limited_after_retries(scripted: ScriptedServer, anon: Client) -> None:
    gradio_like(scripted)
    scripted.add("/gradio_api/call/x", Reply(429, {"retry-after": "7"}))
    with pytest.raises(RateLimited) as err:
        anon.call(scripted.url, "x")
    msg = str(err.value)
    assert "\n" not in msg and "429" in msg and "7 s" in msg
    assert err.value.retry_after_s == 7 and err.value.retryable
    assert len(posts(scripted, "/gradio_api/call/x")) == FAST.attempts


def test_queue_full_after_retries(scripted: ScriptedServer, anon: Client) -> None:
    gradio_like(scripted)
    scripted.add("/gradio_api/call/x", Reply(503, body=QUEUE_FULL))
    with pytest.raises(QueueFull) as err:
        anon.call(scripted.url, "x")
    assert "\n" not in str(err.value) and "queue is full" in str(err.value).lower()
    assert len(posts(scripted, "/gradio_api/call/x")) == FAST.attempts


def test_accepted_job_is_never_submitted_twice(scripted: ScriptedServer, anon: Client) -> None:
    gradio_like(scripted)
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    stream = sse(("generating", ["half"]))
    stream.drop = True  # the connection dies after the first event
    scripted.add("/gradio_api/call/x/e1", stream)
    with pytest.raises(ConnectionLost):
        anon.call(scripted.url, "x")
    assert len(posts(scripted, "/gradio_api/call/x")) == 1
    assert len(gets(scripted, "/gradio_api/call/x/e1")) == 1  # no second GET either (it would 404)


def accepted(srv: ScriptedServer, stream: Reply) -> str:
    """A Gradio-shaped server that accepts /x as event e1 and answers its result GET with `stream`."""
    gradio_like(srv)
    srv.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    srv.add("/gradio_api/call/x/e1", stream)
    return srv.url


def test_error_event_before_a_cut_stream_wins(scripted: ScriptedServer, anon: Client) -> None:
    # gradio raises after yielding an error, so the chunked body is cut: the event must be reported.
    stream = sse(("heartbeat", None), ("error", {"error": "boom", "duration": 10, "visible": True, "title": "Error"}))
    stream.drop = True
    with pytest.raises(SpaceError) as err:
        anon.call(accepted(scripted, stream), "x")
    assert type(err.value) is SpaceError and "boom" in str(err.value) and err.value.title == "Error"


def test_error_event_shapes(scripted: ScriptedServer, anon: Client) -> None:
    url = accepted(scripted, sse(("error", None)))  # gradio < 6.13: every failure is a bare null
    with pytest.raises(SpaceError) as err:
        anon.call(url, "x")
    assert err.value.hidden
    scripted.script["/gradio_api/call/x/e1"] = [sse(("error", "404: Not Found"))]  # unknown or consumed event
    with pytest.raises(ConnectionLost, match="404"):
        anon.call(url, "x")


def test_stream_ending_without_result(scripted: ScriptedServer, anon: Client) -> None:
    with pytest.raises(ConnectionLost, match="without a result"):
        anon.call(accepted(scripted, sse(("generating", ["half"]))), "x")
    assert len(posts(scripted, "/gradio_api/call/x")) == 1


def test_idempotent_get_is_retried(scripted: ScriptedServer, anon: Client) -> None:
    scripted.add("/gradio_api/info", Reply(502, body="<html>bad gateway</html>"), Reply(200, body=INFO))
    assert list(anon.schema(scripted.url).endpoints) == ["/x", "/img"]
    assert len(gets(scripted, "/gradio_api/info")) == 2


def test_connection_refused_is_connection_lost(anon: Client) -> None:
    with ScriptedServer() as srv:
        url = srv.url
    with pytest.raises(ConnectionLost, match="cannot connect"):
        anon.schema(url)


# --------------------------------------------------------------------------- token policy

TOKEN_HEADERS = ("authorization", "x-hf-authorization")


def no_token(srv: ScriptedServer) -> bool:
    return all(not any(h in r.headers for h in TOKEN_HEADERS) for r in srv.requests)


@pytest.fixture
def third_party(local_urls):
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def space_host(scripted: ScriptedServer, third_party: ScriptedServer, hub_env) -> ScriptedServer:
    """`scripted` as the host of Hub Space acme/scripted; its file downloads redirect to `third_party`."""
    gradio_like(scripted)
    scripted.add("/gradio_api/upload", Reply(200, body=["/tmp/gradio/abc/in.png"]))
    scripted.add("/gradio_api/call/img", Reply(200, body={"event_id": "e2"}))
    scripted.add(
        "/gradio_api/call/img/e2",
        sse(("complete", [{"path": "/tmp/gradio/def/out.png", "meta": FILE_META, "orig_name": "out.png"}])),
    )
    scripted.add("/gradio_api/file=", Reply(302, {"location": f"{third_party.url}/cdn/out.png"}))
    third_party.add("/cdn/", Reply(200, {"content-type": "image/png"}, png_bytes((0, 255, 0))))
    third_party.add("/inputs/", Reply(200, {"content-type": "image/png"}, png_bytes((255, 0, 0))))
    cfg = hub_env.config
    space = {**cfg["spaces"][0], "id": "acme/scripted", "host": scripted.url, "agents_md": "v2"}
    hub_env.set_config({**cfg, "spaces": [*cfg["spaces"], space]})
    return scripted


def test_token_goes_to_hub_and_hub_named_space(
    space_host: ScriptedServer, third_party: ScriptedServer, hub_env, tmp_path: Path
) -> None:
    token = os.environ["HF_TOKEN"]
    hub_env.clear_log()
    with Client(token=token, out_dir=tmp_path / "out", retry=FAST) as c:
        [out] = c.call("acme/scripted", "img", {"image": f"{third_party.url}/inputs/red.png"})
    assert Path(out).read_bytes() == png_bytes((0, 255, 0))  # downloaded through the redirect

    # The Hub: Authorization, never the Space header.
    hub_reqs = hub_env.requests()
    assert {r["path"].split("?")[0] for r in hub_reqs} >= {
        "/spaces/acme/scripted/agents.md",
        "/api/spaces/acme/scripted",
    }
    for r in hub_reqs:
        assert r["headers"].get("authorization") == f"Bearer {token}", r
        assert "x-hf-authorization" not in r["headers"]

    # The Space host named by the Hub: X-HF-Authorization on every request, never Authorization.
    seen = {(r.method, r.path.split("?")[0]) for r in space_host.requests}
    assert {
        ("GET", "/gradio_api/info"),
        ("POST", "/gradio_api/upload"),
        ("POST", "/gradio_api/call/img"),
        ("GET", "/gradio_api/call/img/e2"),
        ("GET", "/gradio_api/file=/tmp/gradio/def/out.png"),
    } <= seen
    for r in space_host.requests:
        assert r.headers.get("x-hf-authorization") == f"Bearer {token}", r
        assert "authorization" not in r.headers

    # The third party: the input URL and the redirect target get no token at all.
    assert {r.path for r in third_party.requests} == {"/inputs/red.png", "/cdn/out.png"}
    assert no_token(third_party)


def test_no_token_for_a_direct_url(space_host: ScriptedServer, tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    with Client(token=os.environ["HF_TOKEN"], out_dir=tmp_path / "out", retry=FAST) as c:
        c.call(space_host.url, "img", {"image": str(image)})  # the same server, but given as a URL
    assert {r.path.split("?")[0] for r in space_host.requests} >= {
        "/gradio_api/info",
        "/gradio_api/upload",
        "/gradio_api/call/img",
    }
    assert no_token(space_host)


def test_no_token_when_hub_gives_no_token(space_host: ScriptedServer, hub_env, tmp_path: Path) -> None:
    hub_env.clear_log()
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        c.schema("acme/scripted")
    assert no_token(space_host)
    assert all("authorization" not in r["headers"] for r in hub_env.requests())


# --------------------------------------------------------------------------- older gradio, waking Spaces


def test_gradio_4_api_without_prefix(scripted: ScriptedServer, anon: Client) -> None:
    """gradio 4.x serves /info, /call and /file= at the root: used when /gradio_api/info is 404."""
    scripted.add("/info", Reply(200, body=INFO))
    scripted.add("/call/x", Reply(200, body={"event_id": "e4"}))
    scripted.add("/call/x/e4", sse(("complete", ["old but fine"])))
    assert anon.call(scripted.url, "x") == ["old but fine"]
    assert gets(scripted, "/gradio_api/info") and posts(scripted, "/call/x")


def test_no_gradio_api_is_a_one_line_error(scripted: ScriptedServer, anon: Client) -> None:
    from spacechain.tools import NotGradioSpace

    with pytest.raises(NotGradioSpace, match="serves no Gradio API"):
        anon.schema(scripted.url)


def test_waiting_for_a_sleeping_space(hub_env, tmp_path: Path) -> None:
    import threading

    from spacechain.tools import SpaceNotRunning

    with Client(out_dir=tmp_path, wake_timeout=0) as impatient:
        with pytest.raises(SpaceNotRunning) as err:
            impatient.space("acme/sleepy")
        assert err.value.stage == "SLEEPING" and err.value.retryable
    # The Space wakes up a moment later; a client with a wake timeout waits for it instead of failing.
    threading.Timer(1.0, hub_env.update_space, args=("acme/sleepy",), kwargs={"stage": "RUNNING"}).start()
    with Client(out_dir=tmp_path, wake_timeout=30) as patient:
        assert patient.call("acme/sleepy", "noop") == ["ok"]
    requests = [r["path"] for r in hub_env.requests() if r["path"].startswith("/api/spaces/acme/sleepy")]
    assert len(requests) >= 2  # the runtime stage was polled


def test_no_token_for_urls_that_lead_to_the_hub(
    space_host: ScriptedServer, third_party: ScriptedServer, hub_env, tmp_path: Path
) -> None:
    """A URL input redirecting to the Hub, and an output naming a Hub URL, are fetched without the
    token: a Space must not be able to read the user's private Hub files through us."""
    secret = f"{hub_env.url}/datasets/victim/private/resolve/main/secret.png"
    third_party.add("/to-hub/", Reply(302, {"location": secret}))
    space_host.script["/gradio_api/call/img/e2"] = [
        sse(("complete", [{"path": secret, "meta": FILE_META, "orig_name": "secret.png"}]))
    ]
    image = tmp_path / "x.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    hub_env.clear_log()
    with Client(token=os.environ["HF_TOKEN"], out_dir=tmp_path / "out", retry=FAST) as c:
        # The stand-in has no such file (404); what matters is the header of each request.
        with pytest.raises(HTTPError):  # input URL → redirect to the Hub
            c.call("acme/scripted", "img", {"image": f"{third_party.url}/to-hub/x.png"})
        with pytest.raises(HTTPError):  # output FileData whose path is a Hub URL
            c.call("acme/scripted", "img", {"image": str(image)})
    fetched = [r for r in hub_env.requests() if r["path"].startswith("/datasets/")]
    assert len(fetched) >= 2 and all("authorization" not in r["headers"] for r in fetched)


def test_a_space_redirecting_its_files_to_the_hub_gets_no_token(
    space_host: ScriptedServer, hub_env, tmp_path: Path
) -> None:
    space_host.script["/gradio_api/file="] = [Reply(302, {"location": f"{hub_env.url}/api/spaces/acme/flux-lite"})]
    image = tmp_path / "x.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    hub_env.clear_log()
    with Client(token=os.environ["HF_TOKEN"], out_dir=tmp_path / "out", retry=FAST) as c:
        c.call("acme/scripted", "img", {"image": str(image)})
    redirected = [r for r in hub_env.requests() if r["path"].startswith("/api/spaces/acme/flux-lite")]
    assert redirected and all("authorization" not in r["headers"] for r in redirected)


def test_file_urls_into_the_local_network_are_refused(hub_env, monkeypatch, tmp_path: Path) -> None:
    """Without SPACECHAIN_ALLOW_PRIVATE_URLS, a URL input (or a redirect) to a private or loopback
    host the user never named is not fetched: no reading the intranet or cloud metadata for a Space."""
    from spacechain.tools import UnsafeURL

    monkeypatch.delenv("SPACECHAIN_ALLOW_PRIVATE_URLS", raising=False)
    with ScriptedServer() as intranet:
        intranet.add("/secret", Reply(200, {"content-type": "image/png"}, png_bytes((9, 9, 9))))
        with Client(out_dir=tmp_path / "out", retry=FAST) as c:
            with pytest.raises(UnsafeURL, match="private or local address"):
                c.call("acme/toolbox", "count_upload", {"file": f"{intranet.url}/secret"})
            # The app's own files (its host was named by the Hub) still download fine.
            assert c.call("acme/flux-lite", "generate", {"prompt": "ok"})[0].endswith(".png")
        assert intranet.requests == []
