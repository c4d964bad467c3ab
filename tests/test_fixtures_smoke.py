"""Smoke tests for the test infrastructure itself, using only httpx and huggingface_hub (not the product)."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError
from PIL import Image
from servers import Reply, ScriptedServer, sse

FILEDATA_META = {"_type": "gradio.FileData"}


def call(base: str, api: str, data: list, session_hash: str | None = None) -> list[tuple[str, Any]]:
    """POST /gradio_api/call/{api} then read the whole SSE stream as [(event, data)]."""
    body: dict[str, Any] = {"data": data}
    if session_hash:
        body["session_hash"] = session_hash
    r = httpx.post(f"{base}/gradio_api/call/{api}", json=body, timeout=30)
    r.raise_for_status()
    events, name = [], None
    with httpx.stream("GET", f"{base}/gradio_api/call/{api}/{r.json()['event_id']}", timeout=60) as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
    return events


def download(base: str, fd: dict) -> bytes:
    r = httpx.get(f"{base}/gradio_api/file={fd['path']}", timeout=30)
    r.raise_for_status()
    return r.content


def parse_glb(blob: bytes) -> dict:
    """Check the GLB container and that every accessor fits its buffer view; return the glTF JSON."""
    magic, version, total = struct.unpack_from("<4sII", blob, 0)
    assert (magic, version, total) == (b"glTF", 2, len(blob))
    jlen, jtype = struct.unpack_from("<I4s", blob, 12)
    assert jtype == b"JSON" and jlen % 4 == 0
    gltf = json.loads(blob[20 : 20 + jlen])
    blen, btype = struct.unpack_from("<I4s", blob, 20 + jlen)
    assert btype == b"BIN\0" and 28 + jlen + blen == len(blob)
    assert gltf["buffers"][0]["byteLength"] <= blen
    sizes = {5126: 4, 5123: 2, 5125: 4}
    comps = {"SCALAR": 1, "VEC3": 3}
    for acc in gltf["accessors"]:
        view = gltf["bufferViews"][acc["bufferView"]]
        assert acc["count"] * sizes[acc["componentType"]] * comps[acc["type"]] <= view["byteLength"]
        assert view["byteOffset"] + view["byteLength"] <= blen
    return gltf


def test_apps_serve_info(spaces: dict[str, str]) -> None:
    expected = {"text2img": "/generate", "img2_3d": "/extract_glb", "misc": "/quota"}
    for name, endpoint in expected.items():
        info = httpx.get(f"{spaces[name]}/gradio_api/info", timeout=30).json()
        assert endpoint in info["named_endpoints"], name
    params = httpx.get(f"{spaces['img2_3d']}/gradio_api/info").json()["named_endpoints"]["/image_to_3d"]["parameters"]
    assert len(params) == 15 and params[0]["parameter_name"] == "image"


def test_generate_returns_png_with_prompt(spaces: dict[str, str]) -> None:
    events = call(spaces["text2img"], "generate", ["a red cat", 7, False, 64, 64, 3.5, 4])
    assert events[-1][0] == "complete"
    fd, seed = events[-1][1]
    assert fd["meta"] == FILEDATA_META and seed == 7
    img = Image.open(io.BytesIO(download(spaces["text2img"], fd)))
    assert img.format == "PNG" and img.size == (64, 64) and img.info["prompt"] == "a red cat"


def test_state_chain_needs_session(spaces: dict[str, str]) -> None:
    base = spaces["img2_3d"]
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 200, 0)).save(png, "PNG")
    path = httpx.post(
        f"{base}/gradio_api/upload", files=[("files", ("green.png", png.getvalue(), "image/png"))]
    ).json()[0]
    image = {"path": path, "meta": FILEDATA_META, "orig_name": "green.png"}
    args = [image, 1, 7.5, 12, 3.0, 12, [], "stochastic", True, 0.95, 1024, "1024", False, "cube", None]
    first = call(base, "image_to_3d", args, session_hash="smoke-session")
    assert first[-1][0] == "complete"  # data is [None (the State), preview FileData]
    out = call(base, "extract_glb", [500000, 2048], session_hash="smoke-session")
    assert out[-1][0] == "complete", out
    gltf = parse_glb(download(base, out[-1][1][1]))
    assert gltf["asset"]["extras"]["source_sha256"] == hashlib.sha256(png.getvalue()).hexdigest()
    no_session = call(base, "extract_glb", [500000, 2048])
    assert no_session[-1] == (
        "error",
        {"error": "Generate a 3D model first", "duration": 10, "visible": True, "title": "Error"},
    )


def test_misc_errors_and_stream(spaces: dict[str, str]) -> None:
    base = spaces["misc"]
    assert [d for _, d in call(base, "stream", [5])][-1] == ["step 4"]
    assert call(base, "fail", [""])[-1][1]["title"] == "Bad prompt"
    assert call(base, "hidden_fail", [])[-1] == ("error", {"error": None})
    assert call(base, "quota", [])[-1][1]["title"] == "ZeroGPU quota exceeded"


def test_hub_agents_md(hub) -> None:
    v2 = httpx.get(f"{hub.url}/spaces/acme/flux-lite/agents.md").text
    assert "/gradio_api/call/v2/{endpoint}" in v2 and "File inputs:" in v2
    v1 = httpx.get(f"{hub.url}/spaces/acme/trellis-lite/agents.md").text
    assert '{"data": [...]}' in v1 and "File inputs" not in v1 and len(v1.splitlines()) == 5
    assert httpx.get(f"{hub.url}/spaces/acme/static-site/agents.md").status_code == 404
    missing = httpx.get(f"{hub.url}/spaces/acme/nope/agents.md")
    assert missing.status_code == 404 and missing.headers["x-error-code"] == "RepoNotFound"


def test_hub_api_parses_with_huggingface_hub(hub, spaces: dict[str, str]) -> None:
    api = HfApi(endpoint=hub.url, token="hf_test_token_123")
    info = api.space_info("acme/flux-lite")
    assert info.runtime.stage == "RUNNING" and info.host == spaces["text2img"]
    assert info.card_data.title == "FLUX lite" and info.runtime.hardware == "zero-a10g"
    assert api.get_space_runtime("acme/sleepy").stage == "SLEEPING"
    with pytest.raises(RepositoryNotFoundError):
        api.space_info("acme/nope")
    results = list(api.search_spaces("image"))
    assert results and results[0].runtime is not None
    assert all(r.runtime.stage == "RUNNING" for r in results)
    assert "acme/broken" in {r.id for r in api.search_spaces("image", include_non_running=True)}
    listed = list(api.list_spaces(search="flux", expand=["runtime", "cardData", "sdk"]))
    assert [s.id for s in listed] == ["acme/flux-lite"] and listed[0].runtime.stage == "RUNNING"


def test_hub_runtime_config_and_header_log(hub) -> None:
    hub.update_space("acme/sleepy", stage="RUNNING")
    try:
        assert HfApi(endpoint=hub.url).get_space_runtime("acme/sleepy").stage == "RUNNING"
        cfg = {**hub.config, "semantic_search": "fail"}
        hub.set_config(cfg)
        assert httpx.get(f"{hub.url}/api/spaces/semantic-search", params={"q": "x"}).status_code == 500
    finally:
        hub.reset()
    httpx.get(f"{hub.url}/api/spaces/acme/toolbox", headers={"Authorization": "Bearer hf_x"})
    assert any(r["headers"].get("authorization") == "Bearer hf_x" for r in hub.requests())


def test_scripted_server_replies_in_order() -> None:
    script = {"/gradio_api/call/": [Reply(429), Reply(503, body="<html>waking</html>"), sse(("complete", ["ok"]))]}
    with ScriptedServer(script) as srv:
        codes = [httpx.get(f"{srv.url}/gradio_api/call/x/1").status_code for _ in range(3)]
        assert codes == [429, 503, 200]
        last = httpx.get(f"{srv.url}/gradio_api/call/x/1")  # the last reply repeats
        assert last.text == 'event: complete\ndata: ["ok"]\n\n'
        assert httpx.post(f"{srv.url}/other", content=b"hi").status_code == 404
        assert srv.requests[-1].body == b"hi" and len(srv.requests_to("/gradio_api/call/")) == 4


def test_info_sizes(spaces: dict[str, str], big_space: str) -> None:
    """`big` is the schema-compaction benchmark: its raw /info must stay in the 15-25k range."""
    sizes = {
        name: len(httpx.get(f"{url}/gradio_api/info", timeout=30).text)
        for name, url in {"img2_3d": spaces["img2_3d"], "big": big_space}.items()
    }
    print(f"raw /gradio_api/info sizes: {sizes}")
    assert 15_000 <= sizes["big"] <= 25_000 and sizes["img2_3d"] < sizes["big"]
