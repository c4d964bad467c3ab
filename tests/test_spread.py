"""spread=True: a batch or pipeline runs over the healthy equivalents of each Space, an item's stateful stages
on one Space (tests/pool_support.py's copies on the Hub stand-in)."""

from __future__ import annotations

import pytest
from pool_support import with_family

from spacechain.tools import Client
from spacechain.tools.toolset import TOOLSET, ToolContext

TOOLS = {s.name: s for s in TOOLSET}
STAGES = [
    {"space": "ann/flux-dev", "endpoint": "/generate", "inputs": {"prompt": "{prompt}"}},
    {"space": "tre/trellis-3d", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},
    {"space": "tre/trellis-3d", "endpoint": "/extract_glb", "inputs": {}},
]


@pytest.fixture
def ctx(pool_hub, hub_env, tmp_path):
    with_family(hub_env, pool_hub, quota=False)  # no spent-quota copies: every equivalent is healthy
    with Client(out_dir=tmp_path / "out") as client:
        yield ToolContext(client)


def test_pipeline_spread_keeps_each_items_stateful_stages_on_one_space(ctx, pool_hub):
    items = [{"prompt": f"landmark {i}"} for i in range(6)]
    rows = TOOLS["run_pipeline"].call(ctx, items, STAGES, spread=True)
    assert all("error" not in r for r in rows), rows
    assert all(r["outputs"][2][0].endswith(".glb") for r in rows)  # extract_glb read its item's State
    records = [r for r in ctx.client.records if r.status == "complete"]
    assert len(records) == 18
    by_item: dict[str, dict[str, str]] = {}
    for r in records:
        by_item.setdefault(r.session, {})[r.endpoint] = r.space
    assert all(spaces["/image_to_3d"] == spaces["/extract_glb"] for spaces in by_item.values()), by_item
    flux = {spaces["/generate"] for spaces in by_item.values()}
    trellis = {spaces["/image_to_3d"] for spaces in by_item.values()}
    assert flux == {"ann/flux-dev", "bob/flux-dev"}  # the changed copy and the paused ones never
    assert len(trellis) >= 2 and trellis <= {"tre/trellis-3d", "tri/trellis-3d", "acme/trellis-lite"}
    moved = [r for r in records if r.space not in ("ann/flux-dev", "tre/trellis-3d")]
    assert moved and all(r.moved["reason"] == "spread" for r in moved)
    assert all(r.moved is None for r in records if r.space in ("ann/flux-dev", "tre/trellis-3d"))
    assert len(pool_hub.calls("text2img@ann")) == 3 and len(pool_hub.calls("text2img@bob")) == 3


def test_batch_spread_uses_the_equivalents(ctx, pool_hub):
    inputs = [{"prompt": f"bird {i}"} for i in range(4)]
    out = TOOLS["run_space_batch"].call(ctx, "bob/flux-dev", "/generate", inputs, spread=True)
    assert all(isinstance(o, list) and o[0].endswith(".png") for o in out), out
    assert len(pool_hub.calls("text2img@bob")) == 2 and len(pool_hub.calls("text2img@ann")) == 2
    assert pool_hub.calls("text2img_v2") == []


def test_without_spread_a_batch_stays_on_its_space(ctx, pool_hub):
    inputs = [{"prompt": f"fish {i}"} for i in range(3)]
    TOOLS["run_space_batch"].call(ctx, "bob/flux-dev", "/generate", inputs)
    assert len(pool_hub.calls("text2img@bob")) == 3 and pool_hub.calls("text2img@ann") == []
