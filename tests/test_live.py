"""Against the real Hub and real Spaces. Run only with HF_TOKEN and SPACECHAIN_LIVE=1 (see conftest);
they spend a little of the token's ZeroGPU quota. Nothing here is faked: without network they skip."""

from __future__ import annotations

import os

import pytest

from spacechain.tools import Client, SpacechainError

pytestmark = pytest.mark.live


@pytest.fixture
def live_client(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)  # the real Hub
    with Client(out_dir=tmp_path) as client:
        yield client


def test_search_finds_running_gradio_spaces(live_client):
    hits = live_client.search("text to image", limit=5)
    assert hits and all(h.id.count("/") == 1 for h in hits)
    assert hits[0].stage and hits[0].stage.startswith("RUNNING")


def test_contract_and_schema_of_a_searched_space(live_client):
    for hit in live_client.search("image to 3d", limit=5):
        try:
            contract = live_client.contract(hit.id)
            schema = live_client.schema(hit.id)
        except SpacechainError:
            continue  # a Space may be asleep or broken right now: try the next one
        assert contract.host.startswith("https://") and schema.endpoints
        assert len(schema.compact()) < schema.raw_chars * 0.2
        return
    pytest.fail("no running image-to-3D Space answered")


def test_text_to_image_call_downloads_a_file(live_client, tmp_path):
    for hit in live_client.search("text to image", limit=8):
        try:
            schema = live_client.schema(hit.id)
        except SpacechainError:
            continue
        for ep in schema.endpoints.values():
            required = [p for p in ep.params if not p.has_default]
            if (
                len(required) == 1
                and required[0].python_type == "str"
                and any(r.component == "Image" for r in ep.returns)
            ):
                outputs = live_client.call(hit.id, ep.name, {required[0].name: "a red apple"}, timeout=300)
                files = [o for o in outputs if isinstance(o, str) and os.path.isfile(o)]
                assert files and os.path.getsize(files[0]) > 0
                return
    pytest.skip("no running text-to-image Space with a single text input was found")
