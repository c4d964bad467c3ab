"""f. The first LLM request's system message: spacechain's own prompt vs smolagents' generic one, with
the same nine tools (the goal is ≤ 8,000 characters)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import _servers  # noqa: F401 - puts tests/ on sys.path
from scripted_model import ScriptedModel, code, messages_text
from smolagents import CodeAgent
from smolagents.monitoring import LogLevel

from spacechain.agent.run import Run
from spacechain.agent.runner import Planner
from spacechain.agent.toolset import make_tools


def _system_message(model: ScriptedModel) -> str:
    return messages_text(model.seen[0][:1])


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp) / "run", goal="a cat", model="scripted", token=False)
        ours = ScriptedModel([code("final_answer('done')")])
        Planner(run, ours, max_steps=2).turn("a picture of a cat")
        generic = ScriptedModel([code("final_answer('done')")])
        CodeAgent(tools=make_tools(run), model=generic, max_steps=2, verbosity_level=LogLevel.OFF).run(
            "a picture of a cat"
        )
        run.close()
    return {"spacechain_chars": len(_system_message(ours)), "smolagents_chars": len(_system_message(generic))}


if __name__ == "__main__":
    r = main()
    print(
        f"system message: spacechain {r['spacechain_chars']} chars, smolagents' generic prompt "
        f"{r['smolagents_chars']} chars ({r['spacechain_chars'] / r['smolagents_chars']:.2f}×); goal ≤ 8000"
    )
