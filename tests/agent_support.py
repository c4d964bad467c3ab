"""Helpers for in-process agent tests: a Planner driven by a scripted model over a real Run."""

from __future__ import annotations

import json
from pathlib import Path

from scripted_model import ScriptedModel
from smolagents.memory import ActionStep

from spacechain.agent.run import Run
from spacechain.agent.runner import Planner


def make_planner(
    tmp_path: Path,
    replies: list,
    *,
    goal: str = "test goal",
    max_steps: int = 8,
    files: list[str] | None = None,
    run_dir: Path | None = None,
) -> tuple[Planner, Run, ScriptedModel]:
    model = ScriptedModel(replies)
    run = Run(run_dir or tmp_path / "run", goal=goal, model="scripted", user_files=files)
    return Planner(run, model, max_steps=max_steps), run, model


def manifest(run: Run) -> dict:
    return json.loads((run.dir / "manifest.json").read_text())


def action_steps(planner: Planner) -> list[ActionStep]:
    return [s for s in planner.agent.memory.steps if isinstance(s, ActionStep)]
