"""The Client against real Gradio apps on 127.0.0.1, resolved through the Hub stand-in (`hub_env`)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from artifacts_check import glb_json, sha256
from conftest import launch_apps
from PIL import Image
from servers import Reply, ScriptedServer, stop_process

from spacechain.tools import (
    CallTimeout,
    Cancelled,
    Client,
    ConnectionLost,
    EndpointNotFound,
    JobUpdate,
    NotGradioSpace,
    QuotaExceeded,
    SessionBusy,
    SpaceError,
    SpaceNotFound,
    SpaceNotRunning,
)
from spacechain.tools.http import RetryPolicy

FAST = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)


@pytest.fixture
def client(hub_env, tmp_path: Path):
    with Client(token=os.environ["HF_TOKEN"], out_dir=tmp_path / "out", retry=FAST) as c:
        yield c


@pytest.fixture(scope="module")
def own_misc(tmp_path_factory: pytest.TempPathFactory):
    """This module's own misc app for the /slow tests: gradio runs one /slow job at a time and cannot
    stop a cancelled one, so on the shared app these tests would wait behind other modules' jobs."""
    proc, urls = launch_apps(["misc"], tmp_path_factory.mktemp("own-misc"))
    yield urls["misc"]
    stop_process(proc)


@pytest.fixture
def anon(tmp_path: Path):
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        yield c


def png(path: Path, color: tuple[int, int, int], size: int = 16) -> Path:
    Image.new("RGB", (size, size), color).save(path, "PNG")
    return path


# --------------------------------------------------------------------------- contracts


def test_contract_from_agents_md_v2(client: Client, spaces: dict[str, str]) -> None:
    c = client.contract("acme/flux-lite")
    host = spaces["text2img"]
    assert (c.source, c.host, c.title) == ("agents.md", host, "Generate images from text prompts")
    assert c.named_inputs and c.call_url == f"{host}/gradio_api/call/v2/{{endpoint}}"
    assert c.upload_url == f"{host}/gradio_api/upload"
    sp = client.space("acme/flux-lite")
    assert sp.status.stage == "RUNNING" and sp.status.hardware == "zero-a10g" and sp.status.likes == 120


def test_contract_from_agents_md_v1(client: Client, spaces: dict[str, str]) -> None:
    c = client.contract("https://huggingface.co/spaces/acme/trellis-lite")
    assert (c.source, c.host, c.named_inputs) == ("agents.md", spaces["img2_3d"], False)
    assert c.body_hint == '{"data": [...]}'
    assert c.title == "Create 3D model from a single image"


def test_contract_from_space_info_fallback(client: Client, spaces: dict[str, str], hub_env) -> None:
    hub_env.clear_log()
    c = client.contract("acme/old-style")
    assert (c.source, c.host) == ("space-info", spaces["misc"])
    assert c.schema_url == f"{spaces['misc']}/gradio_api/info"
    assert c.title == "Toolbox without agents.md"
    paths = [r["path"] for r in hub_env.requests()]
    assert "/spaces/acme/old-style/agents.md" in paths  # asked, got 404, fell back
    # And the fallback contract works end to end.
    assert client.call("acme/old-style", "noop") == ["ok"]


def test_space_not_found(client: Client) -> None:
    with pytest.raises(SpaceNotFound, match="acme/nope"):
        client.space("acme/nope")


def test_static_space_is_not_gradio(client: Client) -> None:
    with pytest.raises(NotGradioSpace, match="static"):
        client.space("acme/static-site")


def test_sleeping_space(client: Client) -> None:
    with pytest.raises(SpaceNotRunning) as err:
        client.space("acme/sleepy")
    assert err.value.stage == "SLEEPING" and err.value.retryable
    assert "asleep" in str(err.value)


def test_broken_space(client: Client) -> None:
    with pytest.raises(SpaceNotRunning) as err:
        client.call("acme/broken", "upscale", {})
    assert err.value.stage == "RUNTIME_ERROR" and not err.value.retryable
    assert err.value.to_dict()["stage"] == "RUNTIME_ERROR"


def test_endpoint_not_found_lists_real_ones(client: Client) -> None:
    with pytest.raises(EndpointNotFound) as err:
        client.call("acme/toolbox", "/nope", {})
    assert "/echo" in err.value.available and "/slow" in err.value.available
    assert "/count_upload" in str(err.value)


def test_contract_and_schema_are_cached(client: Client, hub_env) -> None:
    hub_env.clear_log()
    infos = []
    client.http.client.event_hooks["request"].append(
        lambda r: infos.append(r.url.path) if r.url.path.endswith("/gradio_api/info") else None
    )
    for _ in range(3):
        client.contract("acme/toolbox")
        client.schema("acme/toolbox")
    client.call("acme/toolbox", "noop")
    client.call("acme/toolbox", "echo", {"text": "x"})
    agents = [r for r in hub_env.requests() if r["path"] == "/spaces/acme/toolbox/agents.md"]
    infos_hub = [r for r in hub_env.requests() if r["path"].startswith("/api/spaces/acme/toolbox")]
    assert len(agents) == 1 and len(infos_hub) == 1
    assert len(infos) == 1


# --------------------------------------------------------------------------- calls


def test_text_to_image(client: Client, tmp_path: Path) -> None:
    path, seed = client.call("acme/flux-lite", "generate", {"prompt": "a red cat", "seed": 7, "width": 64})
    assert seed == 7
    assert Path(path).parent == tmp_path / "out" and Path(path).is_file()
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (64, 256) and img.info["prompt"] == "a red cat"
    rec = client.records[-1]
    assert rec.status == "complete" and rec.endpoint == "/generate" and rec.files[-1]["local"] == path


def test_state_chain_between_two_endpoints(client: Client, tmp_path: Path) -> None:
    [image, _] = client.call("acme/flux-lite", "generate", {"prompt": "a teapot"})
    preview = client.call("acme/trellis-lite", "image_to_3d", {"image": image, "seed": 3}, session="chain")
    assert len(preview) == 1  # the State slot is dropped
    assert glb_json(preview[0])["asset"]["extras"]["stage"] == "preview"
    glb, download = client.call("acme/trellis-lite", "extract_glb", {"decimation_target": 20000}, session="chain")
    assert Path(glb).suffix == ".glb" and Path(download).is_file()
    extras = glb_json(glb)["asset"]["extras"]
    assert extras["source_sha256"] == sha256(image)
    assert extras["seed"] == 3 and extras["decimation_target"] == 20000 and extras["stage"] == "final"


def test_fresh_session_has_no_state(client: Client) -> None:
    with pytest.raises(SpaceError) as err:
        client.call("acme/trellis-lite", "extract_glb", {}, session="fresh-never-used")
    assert "Generate a 3D model first" in str(err.value)
    assert not err.value.hidden


def test_sessions_keep_separate_state(client: Client, tmp_path: Path) -> None:
    red, blue = png(tmp_path / "red.png", (255, 0, 0)), png(tmp_path / "blue.png", (0, 0, 255))
    client.call("acme/trellis-lite", "image_to_3d", {"image": str(red)}, session="A")
    client.call("acme/trellis-lite", "image_to_3d", {"image": str(blue)}, session="B")
    glb_b = client.call("acme/trellis-lite", "extract_glb", [], session="B")[0]
    glb_a = client.call("acme/trellis-lite", "extract_glb", [], session="A")[0]
    assert glb_json(glb_a)["asset"]["extras"]["source_sha256"] == sha256(red)
    assert glb_json(glb_b)["asset"]["extras"]["source_sha256"] == sha256(blue)


def test_echo_types_survive(client: Client) -> None:
    [got] = client.call(
        "acme/toolbox", "echo", {"text": "123", "count": 4, "flag": True, "tags": ["x"], "data": {"k": [1]}}
    )
    assert got["text"] == {"value": "123", "type": "str"}
    assert got["count"] == {"value": 4, "type": "int"}
    assert got["flag"] == {"value": True, "type": "bool"}
    assert got["number"] == {"value": 1.5, "type": "float"}  # default filled by the client
    assert got["tags"]["value"] == ["x"] and got["data"]["value"] == {"k": [1]}


def test_streaming_updates(client: Client) -> None:
    updates: list[JobUpdate] = []
    assert client.call("acme/toolbox", "stream", {"steps": 3}, on_update=updates.append) == ["step 2"]
    partials = [u.partial for u in updates if u.state == "generating"]
    assert partials == [["step 0"], ["step 1"], ["step 2"]]
    states = [u.state for u in updates]
    assert states[-1] == "complete" and states.index("complete") > states.index("generating")
    assert client.records[-1].generated == 3


def test_gr_error(client: Client) -> None:
    with pytest.raises(SpaceError) as err:
        client.call("acme/toolbox", "fail", {"prompt": "x"})
    e = err.value
    assert "Prompt is empty; write something" in str(e) and e.title == "Bad prompt" and not e.hidden
    assert type(e) is SpaceError
    assert client.records[-1].status == "error" and client.records[-1].error["title"] == "Bad prompt"


def test_hidden_error(client: Client) -> None:
    with pytest.raises(SpaceError) as err:
        client.call("acme/toolbox", "hidden_fail")
    assert err.value.hidden is True
    assert "secret detail" not in str(err.value) and "show_error=False" in str(err.value)


def test_quota_error(client: Client) -> None:
    with pytest.raises(QuotaExceeded) as err:
        client.call("acme/toolbox", "quota")
    e = err.value
    assert (e.requested_s, e.left_s, e.retry_after_s) == (60, 56, 588)
    assert e.title == "ZeroGPU quota exceeded" and "\n" not in str(e)


def test_result_timeout_does_not_stop_the_job(anon: Client, own_misc: str) -> None:
    job = anon.submit(own_misc, "slow", {"seconds": 1})
    with pytest.raises(CallTimeout):
        job.result(timeout=0.2)
    assert not job.done()
    assert job.result(timeout=30) == ["done"]
    assert job.record.status == "complete"


def test_call_timeout_cancels(anon: Client, own_misc: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(CallTimeout) as err:
        anon.call(own_misc, "slow", {"seconds": 6}, timeout=1)
    assert time.monotonic() - t0 < 5  # cut at the timeout, not when the Space finishes
    assert "1 s" in str(err.value)
    assert anon.records[-1].status == "error" and anon.records[-1].error["error"] == "timeout"


def test_cancel_stops_waiting(anon: Client, own_misc: str) -> None:
    job = anon.submit(own_misc, "slow", {"seconds": 3})
    time.sleep(0.2)
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(timeout=2.5)  # long before the Space would answer
    assert job.record.status == "error" and job.record.error["error"] == "cancelled"


def test_server_killed_mid_job(app_launcher, tmp_path: Path) -> None:
    url = app_launcher(["misc"])["misc"]
    proc = app_launcher.procs[-1]
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        job = c.submit(url, "slow", {"seconds": 30})
        deadline = time.monotonic() + 10
        while job._resp is None and time.monotonic() < deadline:  # wait until the result stream is open
            time.sleep(0.02)
        assert not job.done()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        t0 = time.monotonic()
        with pytest.raises(ConnectionLost):
            job.result(timeout=20)
        assert time.monotonic() - t0 < 10


# --------------------------------------------------------------------------- files


def test_local_file_input(client: Client, tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"x" * 1234)
    assert client.call("acme/toolbox", "count_upload", {"file": str(f)}) == ["1234"]
    assert client.call("acme/toolbox", "count_upload", [f]) == ["1234"]  # a PathLike works too
    rec = client.records[-1]
    assert rec.files[0]["direction"] == "in" and rec.files[0]["sha256"] == sha256(f)


def test_url_input_is_downloaded_without_token(local_urls, client: Client, scripted: ScriptedServer) -> None:
    scripted.add("/media/", Reply(200, {"content-type": "application/octet-stream"}, b"y" * 777))
    assert client.call("acme/toolbox", "count_upload", {"file": f"{scripted.url}/media/blob.bin"}) == ["777"]
    [req] = scripted.requests
    assert req.path == "/media/blob.bin"
    assert "authorization" not in req.headers and "x-hf-authorization" not in req.headers


def test_filedata_inputs(client: Client, tmp_path: Path) -> None:
    f = tmp_path / "fd.txt"
    f.write_text("hello")
    uploads = []
    client.http.client.event_hooks["request"].append(
        lambda r: uploads.append(r) if r.url.path.endswith("/upload") else None
    )
    fd = {"path": str(f), "meta": {"_type": "gradio.FileData"}, "orig_name": "fd.txt"}
    assert client.call("acme/toolbox", "count_upload", {"file": fd}) == ["5"]
    server_fd = client.upload("acme/toolbox", str(f))
    assert server_fd["meta"] == {"_type": "gradio.FileData"} and server_fd["path"] != str(f)
    # An already-uploaded server FileData is passed as is.
    assert client.call("acme/toolbox", "count_upload", {"file": server_fd}) == ["5"]
    assert len(uploads) == 1  # same content: uploaded once per Space


def test_multi_file_input(client: Client, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("aaa")
    b.write_text("bbbbb")
    listing, listing_file = client.call("acme/toolbox", "files", {"files": [str(a), str(b)]})
    assert listing.splitlines() == ["a.txt 3", "b.txt 5"]
    assert Path(listing_file).read_text() == listing


def test_gallery_output(client: Client, tmp_path: Path) -> None:
    [gallery] = client.call("acme/toolbox", "gallery", {"n": 2})
    assert [item["caption"] for item in gallery] == ["image 0", "image 1"]
    for item in gallery:
        path = Path(item["image"])
        assert path.is_file() and path.parent == tmp_path / "out"
        with Image.open(path) as img:
            assert img.format == "PNG" and img.info["prompt"] == item["caption"]


# --------------------------------------------------------------------------- search


def test_search_running_first(client: Client, hub_env) -> None:
    hub_env.update_space("acme/broken", likes=999)  # the Hub ranks it first; we must not
    hits = client.search("image", limit=10, include_non_running=True)
    ids = [h.id for h in hits]
    assert ids == ["acme/flux-lite", "acme/trellis-lite", "acme/broken"]
    flux = hits[0]
    assert (flux.title, flux.description, flux.likes, flux.stage, flux.hardware) == (
        "FLUX lite",
        "Generate images from text prompts",
        120,
        "RUNNING",
        "zero-a10g",
    )
    assert hits[-1].stage == "RUNTIME_ERROR"
    assert [h.id for h in client.search("image", limit=10)] == ["acme/flux-lite", "acme/trellis-lite"]
    assert [h.id for h in client.search("image", limit=1)] == ["acme/flux-lite"]


def test_search_falls_back_to_plain_search(client: Client, hub_env) -> None:
    hub_env.set_config({**hub_env.config, "semantic_search": "fail"})
    hub_env.clear_log()
    hits = client.search("lite", limit=5)
    paths = [r["path"].split("?")[0] for r in hub_env.requests()]
    assert "/api/spaces/semantic-search" in paths and "/api/spaces" in paths
    by_id = {h.id: h for h in hits}
    assert list(by_id) == ["acme/flux-lite", "acme/trellis-lite"]
    t = by_id["acme/trellis-lite"]
    assert (t.title, t.description, t.likes, t.stage, t.hardware) == (
        "TRELLIS lite",
        "Create 3D model from a single image",
        80,
        "RUNNING",
        "zero-a10g",
    )


def test_a_busy_session_is_an_error_not_a_hang(hub_env, app_launcher, tmp_path):
    url = app_launcher(["misc"])["misc"]
    with Client(out_dir=tmp_path) as client:
        slow = client.submit(url, "/slow", {"seconds": 3}, session="s")
        with pytest.raises(SessionBusy, match="session 's' is still busy"):
            client.submit(url, "/noop", session="s", timeout=0.3)
        assert client.call(url, "/noop", session="other") == ["ok"]  # other sessions are free
        assert slow.result(10) == ["done"]
        assert client.call(url, "/noop", session="s") == ["ok"]
