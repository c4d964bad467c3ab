"""The goals benchmark's harness (bench/goals.py), run offline: loopback Spaces, a scripted model."""

from __future__ import annotations

import sys
from pathlib import Path

from scripted_model import ScriptedModel, code

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import goals

SIX = """
names = ["Eiffel Tower", "Louvre pyramid", "Notre-Dame", "Arc de Triomphe", "Sacré-Cœur", "Pont Neuf"]
rows = run_pipeline([{"name": n} for n in names], [
    {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "{name}"}},
    {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},
    {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}}])
print([r.get("error") for r in rows])
"""


def by_id(name: str) -> dict:
    (goal,) = goals.load_goals(only=[name])
    return goal


def test_the_goals_file_is_a_dozen_checkable_goals():
    all_goals = goals.load_goals()
    assert len(all_goals) >= 12 and len({g["id"] for g in all_goals}) == len(all_goals)
    assert all(g["expect"] for g in all_goals)


def test_met_goals_are_reported_with_their_figures(hub_env, tmp_path: Path):
    six = goals.run_goal(
        by_id("six-landmarks-3d"), ScriptedModel([code(SIX), code("final_answer('six')")]), tmp_path, label="scripted"
    )
    assert six["success"], six["missed"]
    assert (six["steps"], six["calls"], six["failed_calls"]) == (2, 18, 0)
    assert six["tokens_in"] == 20 and six["tokens_out"] == 10 and six["wall_s"] > 0

    fallback = goals.run_goal(
        by_id("fallback-space-down"),
        ScriptedModel(
            [
                code(
                    'try:\n    run_space("acme/broken-flux", "/generate", {"prompt": "a lighthouse"})\n'
                    'except Exception as e:\n    print("down:", e)'
                ),
                code(
                    'img = run_space("acme/flux-lite", "/generate", {"prompt": "a lighthouse at night"})[0]\n'
                    "final_answer(img)"
                ),
            ]
        ),
        tmp_path,
        label="scripted",
    )
    assert fallback["success"], fallback["missed"]
    print(goals.table([six, fallback]))


def test_a_missed_outcome_is_reported(hub_env, tmp_path: Path):
    row = goals.run_goal(
        by_id("photo-figurine-3d"),
        ScriptedModel(
            [
                code('print(run_space("acme/toolbox", "/count_upload", {"file": "' + str(tmp_path) + '/nope.png"}))'),
                code('final_answer("a figurine")'),
            ]
        ),
        tmp_path,
        label="scripted",
    )
    assert not row["success"]
    assert "0/1 image files" in row["missed"] and "0/1 model3d files" in row["missed"]
    assert any("no working Space" in m for m in row["missed"])
    assert "| photo-figurine-3d | scripted | no: " in goals.table([row])
