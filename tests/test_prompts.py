"""spacechain's own system prompt: small, about Spaces, and smolagents' mechanics still work with it."""

from __future__ import annotations

from pathlib import Path

from agent_support import make_planner
from scripted_model import ScriptedModel, code, messages_text
from smolagents import CodeAgent

from spacechain.agent.runner import load_prompts
from spacechain.agent.toolset import make_tools


def test_the_first_system_message_is_small_and_about_spaces(tmp_path: Path):
    planner, run, model = make_planner(tmp_path, [code("final_answer('done')")])
    assert planner.turn("a cat").success
    run.close()
    system = messages_text(model.seen[0][:1])
    assert len(system) <= 8000
    for name in ("search_spaces", "get_space_api", "run_space", "run_pipeline", "final_answer", "<code>"):
        assert name in system
    for generic in ("document_qa", "Einstein", "wikipedia", "pope"):
        assert generic not in system


def test_planning_and_final_answer_templates_still_work(tmp_path: Path):
    planner, run, _ = make_planner(tmp_path, [])
    model = ScriptedModel(["1. Search a Space. 2. Call it.", code("print('step')"), code("final_answer('ok')")])
    agent = CodeAgent(
        tools=make_tools(run),
        model=model,
        prompt_templates={k: v for k, v in load_prompts().items() if k != "task"},
        planning_interval=5,
        max_steps=3,
    )
    assert agent.run("make an image") == "ok"
    assert "1. Search a Space" in messages_text(model.seen[1])  # the plan is in the next step's memory
    run.close()
