"""Whole plans are checked before the first submission: every problem at once, no Space called."""

from __future__ import annotations

import pytest
from agent_support import action_steps
from scripted_model import code

from spacechain.tools.pipeline import run_batch, run_pipeline
from spacechain.tools.plan import PlanProblems

GOOD = [
    {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "a photo of {name}"}},
    {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},
    {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}},
]
ITEMS = [{"name": "Louvre"}, {"name": "Pont Neuf"}]


def test_a_good_plan_dry_runs_without_calling_anything(hub_client):
    assert run_pipeline(hub_client, ITEMS, GOOD, dry_run=True) == {"ok": True, "problems": [], "calls": 6}
    assert run_batch(hub_client, "acme/flux-lite", "/generate", [{"prompt": "x"}], dry_run=True)["ok"]
    assert hub_client.records == []


@pytest.mark.parametrize(
    "stages,expected",
    [
        (
            GOOD[:2] + [{"space": "acme/trellis-lite", "endpoint": "/extract_gbl", "inputs": {}}],
            "stage 2: No endpoint /extract_gbl on acme/trellis-lite; available: /image_to_3d, /extract_glb",
        ),
        ([{**GOOD[0], "inputs": {"prompt": "{nmae}"}}] + GOOD[1:], "{nmae} is not a field of the item; fields: name"),
        ([GOOD[0], {**GOOD[1], "inputs": {"image": "{prev[2]}"}}, GOOD[2]], "{prev[2]} is out of range"),
        ([GOOD[0], {**GOOD[1], "inputs": {"image": "{s2[0]}"}}, GOOD[2]], "{s2} refers to stage 2"),
        ([{**GOOD[0], "inputs": {"prompt": "x", "width": "wide"}}] + GOOD[1:], "width expects a number; got 'wide'"),
        (
            GOOD + [{"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}}],
            "item 0 stage 3 (acme/trellis-lite /image_to_3d): /image_to_3d: image expects an image file; got "
            "'<stage 2 output 0>.glb'",
        ),
        (
            [{"space": "acme/sleepy", "endpoint": "/echo", "inputs": {"text": "x"}}] + GOOD,
            "stage 0: Space acme/sleepy is not running",
        ),
        ([{"space": "acme/nope", "endpoint": "/x", "inputs": {}}], "stage 0: "),
        (
            [GOOD[0], {"space": "acme/toolbox", "endpoint": "/count_upload", "inputs": {"file": "/no/such/file.png"}}],
            "file /no/such/file.png does not exist",
        ),
    ],
)
def test_a_wrong_stage_runs_no_stage(hub_client, stages, expected):
    with pytest.raises(PlanProblems) as info:
        run_pipeline(hub_client, ITEMS, stages)
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert "\n" not in str(info.value) and "no Space was called" in str(info.value)
    assert hub_client.records == []
    report = run_pipeline(hub_client, ITEMS, stages, dry_run=True)
    assert report["ok"] is False and report["problems"] == info.value.problems and report["calls"] == 0


def test_every_problem_is_reported_at_once(hub_client):
    stages = [
        {**GOOD[0], "inputs": {"prompt": "{nmae}", "seed": "x"}},
        {"space": "acme/trellis-lite", "endpoint": "/nope", "inputs": {}},
    ]
    with pytest.raises(PlanProblems) as info:
        run_pipeline(hub_client, ITEMS, stages)
    problems = info.value.problems
    assert problems[0].startswith("stage 1: No endpoint /nope")
    assert any("item 0 stage 0" in p and "{nmae}" in p for p in problems)
    assert any("item 1 stage 0" in p for p in problems)
    assert info.value.to_dict()["problems"] == problems


def test_the_model_gets_the_plan_check_as_a_tool(hub_env, make):
    planner, run, model = make(
        [
            code(
                "print(run_pipeline([{'name': 'x'}], [{'space': 'acme/flux-lite', 'endpoint': '/generate', "
                "'inputs': {'prompt': '{name}', 'width': 'wide'}}], dry_run=True))"
            ),
            code("run_pipeline([{'name': 'x'}], [{'space': 'acme/flux-lite', 'endpoint': '/generat', 'inputs': {}}])"),
            code("final_answer('checked')"),
        ]
    )
    assert planner.turn("check a plan").success
    steps = action_steps(planner)
    assert "'ok': False" in steps[0].observations and "width expects a number" in steps[0].observations
    assert "No endpoint /generat on acme/flux-lite" in str(steps[1].error)
    assert run.client.records == []
