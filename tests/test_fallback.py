"""Automatic fallback: a call its Space cannot run moves to an equivalent (tools.pool), in the agent's tools,
the fan-out and `spacechain call --fallback`; a Space's own gr.Error never moves it; a spent ZeroGPU quota
moves only to other hardware. Against the copies of tests/pool_support.py on the Hub stand-in."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from agent_support import action_steps, make_planner, manifest
from cli_support import cli
from rich.console import Console
from scripted_model import code

from spacechain.agent.display import Board
from spacechain.agent.studio_view import View, calls_html
from spacechain.tools import Client, SpaceError
from spacechain.tools.toolset import TOOLSET, ToolContext

TOOLS = {s.name: s for s in TOOLSET}


def tool(ctx: ToolContext, name: str, *args, **kwargs):
    return TOOLS[name].call(ctx, *args, **kwargs)


@pytest.fixture
def ctx(pool_hub, tmp_path):
    with Client(out_dir=tmp_path / "out") as client:
        yield ToolContext(client)


def test_a_paused_space_runs_on_its_best_running_equivalent(ctx, pool_hub):
    out = tool(ctx, "run_space", "bfl/flux-dev", "/generate", {"prompt": "a lighthouse"})
    assert out[0].endswith(".png")
    (record,) = [r for r in ctx.client.records if r.status == "complete"]
    # Paid hardware first (no ZeroGPU quota spent); the call says where it ran and why.
    assert record.space == "bob/flux-dev"
    assert record.moved["from"] == "bfl/flux-dev" and record.moved["reason"] == "space_not_running"
    assert "PAUSED" in record.moved["message"]
    assert [c["prompt"] for c in pool_hub.calls("text2img@bob")] == ["a lighthouse"]
    assert ctx.take_notes() == ["bfl/flux-dev /generate ran on bob/flux-dev instead (it is not running: PAUSED)"]
    # The next call on the paused Space goes straight there, still saying why.
    tool(ctx, "run_space", "bfl/flux-dev", "/generate", {"prompt": "a harbour"})
    assert ctx.client.records[-1].space == "bob/flux-dev" and ctx.client.records[-1].moved["from"] == "bfl/flux-dev"
    assert ctx.client.health.health("bfl/flux-dev").last_error == "space_not_running"


def test_a_spent_zero_gpu_quota_moves_to_paid_hardware_and_no_other_zero_gpu_copy(ctx, pool_hub):
    out = tool(ctx, "run_space", "zed/flux-dev", "/generate", {"prompt": "a red kite"})
    assert out[0].endswith(".png")
    failed, ran = ctx.client.records
    assert failed.space == "zed/flux-dev" and failed.error["error"] == "quota_exceeded"
    assert ran.space == "bob/flux-dev" and ran.moved["reason"] == "quota_exceeded"
    assert len(pool_hub.calls("text2img_quota@zed")) == 1 and len(pool_hub.calls("text2img@bob")) == 1
    # The quota is the user's on every ZeroGPU Space: those copies got no request.
    assert pool_hub.calls("text2img_quota@zoe") == [] and pool_hub.calls("text2img@ann") == []
    assert ctx.client.pool.quota_out


def test_a_spaces_own_error_for_the_inputs_never_moves_the_call(ctx, pool_hub):
    with pytest.raises(SpaceError, match="flagged this prompt"):
        tool(ctx, "run_space", "bob/flux-dev", "/generate", {"prompt": "something flagged"})
    assert len(pool_hub.calls("text2img@bob")) == 1
    assert all(pool_hub.calls(name) == [] for name in ("text2img@ann", "text2img_quota@zed", "text2img_v2"))
    assert ctx.take_notes() == []


def test_call_space_then_poll_result_moves_a_call_its_space_failed(ctx, pool_hub):
    event_id = tool(ctx, "call_space", "zoe/flux-dev", "/generate", {"prompt": "a blue heron"})
    out = tool(ctx, "poll_result", "zoe/flux-dev", "/generate", event_id, 60)
    assert out[0].endswith(".png")
    assert ctx.client.records[-1].space == "bob/flux-dev" and ctx.client.records[-1].moved["from"] == "zoe/flux-dev"
    assert pool_hub.calls("text2img_quota@zed") == [] and pool_hub.calls("text2img@ann") == []


def test_a_pipeline_whose_first_stage_space_is_paused_runs_on_its_equivalent(ctx, pool_hub):
    stages = [{"space": "bfl/flux-dev", "endpoint": "/generate", "inputs": {"prompt": "{prompt}"}}]
    rows = tool(ctx, "run_pipeline", [{"prompt": "a fox"}, {"prompt": "a hare"}], stages)
    assert all("error" not in r for r in rows), rows
    assert {r.space for r in ctx.client.records} == {"bob/flux-dev"}
    assert all(r.moved["from"] == "bfl/flux-dev" for r in ctx.client.records)
    assert ctx.take_notes() == ["bfl/flux-dev /generate run on bob/flux-dev instead (it is not running: PAUSED)"]


def test_call_without_fallback_names_the_running_equivalents(pool_hub):
    proc = cli("call", "bfl/flux-dev", "/generate", "-i", "prompt=a barn")
    assert proc.returncode != 0 and len(proc.stderr.splitlines()) == 1, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("error: Space bfl/flux-dev is not running (stage PAUSED)")
    # Best first (paid hardware), then the ZeroGPU copies by likes.
    assert "Running equivalents: bob/flux-dev, zed/flux-dev, zoe/flux-dev, ann/flux-dev (or add --fallback" in line
    assert "dan/flux-dev" not in line  # another signature


def test_call_with_fallback_runs_on_an_equivalent_and_says_so(pool_hub, tmp_path):
    args = ("-i", "prompt=a barn", "--fallback", "--json", "--out", str(tmp_path))
    proc = cli("call", "bfl/flux-dev", "/generate", *args)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)["record"]
    assert record["space"] == "bob/flux-dev" and record["moved"]["from"] == "bfl/flux-dev"
    assert "(ran on bob/flux-dev in place of bfl/flux-dev)" in proc.stderr
    assert [c["prompt"] for c in pool_hub.calls("text2img@bob")] == ["a barn"]


def test_a_run_whose_first_choice_is_paused_needs_no_extra_llm_step(pool_hub, tmp_path):
    replies = [
        code('img = run_space("bfl/flux-dev", "/generate", {"prompt": "Eiffel Tower"})[0]\nprint(img)'),
        code("final_answer(img)", "Done."),
    ]
    planner, run, model = make_planner(tmp_path, replies)
    board_out, view = StringIO(), View()
    planner.events.add(Board(Console(file=board_out, width=200)))
    planner.events.add(lambda event: view.apply(event, lambda path: ""))
    result = planner.turn("an image of the Eiffel Tower")
    assert result.success and len(action_steps(planner)) == 2 and not model.replies
    # The model's observation names the Space that ran the call, in one line.
    first = action_steps(planner)[0].observations
    assert "[spacechain] bfl/flux-dev /generate ran on bob/flux-dev instead (it is not running: PAUSED)" in first
    (call,) = manifest(run)["calls"]
    assert call["space"] == "bob/flux-dev" and call["moved"]["from"] == "bfl/flux-dev"
    assert call["moved"]["reason"] == "space_not_running"
    # The board and the studio's calls table show it moved.
    assert "bob/flux-dev /generate in place of bfl/flux-dev (not running)" in board_out.getvalue()
    assert "in place of bfl/flux-dev (not running)" in calls_html(view.calls)
    run.close()
    # A past run opened in the studio shows it too.
    reopened = View.from_manifest(manifest(run), run.dir)
    assert "in place of bfl/flux-dev (not running)" in calls_html(reopened.calls)


def test_a_stateful_spaces_session_stays_on_the_equivalent_it_moved_to(ctx, pool_hub, hub_env):
    image = tool(ctx, "run_space", "bob/flux-dev", "/generate", {"prompt": "a windmill"})[0]
    hub_env.update_space("tre/trellis-3d", stage="RUNTIME_ERROR")
    tool(ctx, "run_space", "tre/trellis-3d", "/image_to_3d", {"image": image}, "s1")
    # extract_glb reads the State image_to_3d left in session s1: it must run where that call ran.
    glb = tool(ctx, "run_space", "tre/trellis-3d", "/extract_glb", {}, "s1")[0]
    assert glb.endswith(".glb")
    to_3d, extract = ctx.client.records[-2:]
    assert to_3d.space == extract.space == "tri/trellis-3d" and to_3d.session == extract.session == "s1"
    assert extract.moved == {"from": "tre/trellis-3d", "reason": "space_not_running", "message": to_3d.moved["message"]}
