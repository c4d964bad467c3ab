"""Recorded HTTP (vcrpy): the whole Hub + Space conversation of one chain of client calls, replayed
with NO server running.

The cassette tests/cassettes/flux_lite_generate.yaml holds, for acme/flux-lite behind the Hub
stand-in: agents.md, the Hub's space info, GET /gradio_api/info, POST /gradio_api/call/generate,
the SSE result stream (`complete`), the PNG download, and a semantic search.

Ports: the live servers listen on random ports, so while recording every live origin is rewritten
(in request URIs and in response bodies, e.g. the host inside agents.md) to fixed placeholders
where nothing listens: the Hub becomes http://127.0.0.1:59998 and the Space http://127.0.0.1:59999.
The replay points the Client at the placeholder Hub; vcrpy answers everything from the cassette
(`record_mode="none"`: an unrecorded request fails the test instead of reaching the network).
The client's background queue-size sampler (GET .../queue/status, timing dependent) is never
recorded; on replay it hits the empty placeholder port, gets "connection refused" and is ignored.
Tokens and cookies are filtered out of the cassette.

Re-record (starts the Hub stand-in and the test apps, then replays the fresh cassette):

    SPACECHAIN_RECORD=1 python -m pytest tests/test_cassettes.py

Without SPACECHAIN_RECORD=1 the test only replays and starts nothing.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import vcr
from PIL import Image

from spacechain.tools import Client
from spacechain.tools.http import RetryPolicy

CASSETTE = Path(__file__).resolve().parent / "cassettes" / "flux_lite_generate.yaml"
STABLE_HUB = "http://127.0.0.1:59998"
STABLE_SPACE = "http://127.0.0.1:59999"
TOKEN = "hf_test_token_123"
RECORD = os.environ.get("SPACECHAIN_RECORD") == "1"


def make_vcr(origins: dict[str, str]) -> vcr.VCR:
    """A VCR that rewrites live origins to the stable ones; `origins` is empty on replay."""

    def rewrite(text: str) -> str:
        for live, stable in origins.items():
            text = text.replace(live, stable)
        return text

    def before_request(request):
        if request.path.endswith("/queue/status"):
            return None  # polled on a timer: never recorded, never replayed
        request.uri = rewrite(request.uri)
        return request

    def before_response(response):
        body = response["body"]["string"]
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
        except UnicodeDecodeError:
            return response  # binary (the PNG): no origin inside
        new = rewrite(text).encode("utf-8")
        response["body"]["string"] = new
        for name in list(response["headers"]):
            if name.lower() == "content-length":
                response["headers"][name] = [str(len(new))]
        return response

    return vcr.VCR(
        record_mode="once" if RECORD else "none",
        match_on=("method", "scheme", "host", "port", "path", "query"),
        filter_headers=["authorization", "x-hf-authorization", "cookie", "set-cookie", "host"],
        decode_compressed_response=True,
        before_record_request=before_request,
        before_record_response=before_response,
    )


def scenario(out_dir: Path) -> dict:
    """The client calls under test; identical for recording and replay."""
    with Client(
        token=TOKEN, hub=STABLE_HUB if not RECORD else None, out_dir=out_dir, retry=RetryPolicy(attempts=1)
    ) as client:
        contract = client.contract("acme/flux-lite")
        schema = client.schema("acme/flux-lite")
        path, seed = client.call(
            "acme/flux-lite", "generate", {"prompt": "a cassette", "seed": 11, "width": 64, "height": 96}
        )
        hits = client.search("image")
        return {
            "contract": contract,
            "schema": schema,
            "path": path,
            "seed": seed,
            "hits": hits,
            "record": client.records[-1],
        }


def record(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    hub = request.getfixturevalue("hub_env")  # starts the Hub stand-in and the apps
    spaces = request.getfixturevalue("spaces")
    CASSETTE.parent.mkdir(exist_ok=True)
    CASSETTE.unlink(missing_ok=True)
    with make_vcr({hub.url: STABLE_HUB, spaces["text2img"]: STABLE_SPACE}).use_cassette(str(CASSETTE)):
        scenario(tmp_path / "recording")
    text = CASSETTE.read_text()
    assert TOKEN not in text
    assert hub.url not in text and spaces["text2img"] not in text


def nothing_listens(url: str) -> bool:
    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) != 0


def test_replay_without_servers(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if RECORD:
        record(request, tmp_path)
    assert CASSETTE.is_file(), "no cassette: run with SPACECHAIN_RECORD=1 to record it"
    assert nothing_listens(STABLE_HUB) and nothing_listens(STABLE_SPACE)
    monkeypatch.setenv("HF_ENDPOINT", STABLE_HUB)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")

    with make_vcr({}).use_cassette(str(CASSETTE), record_mode="none", allow_playback_repeats=False) as cassette:
        got = scenario(tmp_path / "out")
        assert cassette.all_played, [r.uri for r in cassette.requests]

    c = got["contract"]
    assert (c.source, c.host, c.title) == ("agents.md", STABLE_SPACE, "Generate images from text prompts")
    assert got["schema"].endpoint("generate").signature().startswith("/generate(prompt: str, seed: float = 0")
    assert got["seed"] == 11
    path = Path(got["path"])
    assert path.parent == tmp_path / "out"
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (64, 96) and img.info["prompt"] == "a cassette"
    assert got["record"].status == "complete" and got["record"].host == STABLE_SPACE
    assert [h.id for h in got["hits"]] == ["acme/flux-lite", "acme/trellis-lite"]
    assert got["hits"][0].stage == "RUNNING" and got["hits"][0].likes == 120
