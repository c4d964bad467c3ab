"""Builds the CodeAgent on top of the toolset and runs goals (one-shot or turn after turn)."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from typing import Any

import jinja2
import yaml
from rich.console import Console
from smolagents import CodeAgent
from smolagents.memory import ActionStep
from smolagents.monitoring import AgentLogger, LogLevel
from smolagents.utils import AgentError

from .display import Board, err
from .run import Run
from .sandbox import SealedExecutor
from .toolset import make_tools

OBSERVATION_LIMIT = 4000  # characters of printed output the model sees per step
STEP_RECORD_LIMIT = 2000  # characters of each step's observations kept in the manifest


def load_prompts() -> dict:
    """spacechain's system prompt and task template over smolagents' own planning and final-answer
    templates (their mechanics stay smolagents')."""
    base = importlib.resources.files("smolagents.prompts").joinpath("code_agent.yaml").read_text()
    ours = importlib.resources.files("spacechain.prompts").joinpath("code_agent.yaml").read_text()
    return {**yaml.safe_load(base), **yaml.safe_load(ours)}


@dataclass
class TurnResult:
    success: bool
    status: str  # success | max_steps | failed | interrupted
    answer: Any
    files: list[str] = field(default_factory=list)
    error: str | None = None


class Planner:
    """One CodeAgent bound to one Run. `turn(goal)` runs a goal; memory is kept between turns."""

    def __init__(self, run: Run, model, *, max_steps: int = 20, console: Console = err,
                 verbosity: LogLevel = LogLevel.INFO):
        self.run = run
        self.model = model
        self.max_steps = max_steps
        self.console = console
        self.board = Board(console)
        self.prompts = load_prompts()
        self.verbosity = verbosity
        self._fresh = True  # the next turn starts a new conversation
        self.agent = self._build()

    def _build(self) -> CodeAgent:
        return CodeAgent(
            tools=make_tools(self.run, on_call=self.board.callback),
            model=self.model,
            prompt_templates={k: v for k, v in self.prompts.items() if k != "task"},
            # Only smolagents' base modules: the security stance allows no extra imports.
            additional_authorized_imports=[],
            max_steps=self.max_steps,
            # Sealed tools and checked code (agent/sandbox.py). No step timeout: smolagents' timeout
            # cannot stop a step, it only waits and then discards the result (and blocks Ctrl-C).
            # Every tool bounds its own waits instead.
            executor=SealedExecutor([], max_print_outputs_length=OBSERVATION_LIMIT, timeout_seconds=None),
            max_print_outputs_length=OBSERVATION_LIMIT,
            # Token streaming only helps a person watching a terminal.
            stream_outputs=self.console.is_terminal and callable(getattr(self.model, "generate_stream", None)),
            step_callbacks={ActionStep: self._on_step},
            logger=AgentLogger(level=self.verbosity, console=self.console),
        )

    def reset(self) -> None:
        """Forget the conversation (and the executor's variables, which survive agent.run(reset=True))."""
        self.agent = self._build()
        self._fresh = True

    def set_model(self, model) -> None:
        self.model = model
        self.agent.model = model

    def _on_step(self, step: ActionStep, agent=None) -> None:
        obs = step.observations or ""
        if len(obs) > STEP_RECORD_LIMIT:
            obs = obs[:STEP_RECORD_LIMIT] + f"… [{len(obs) - STEP_RECORD_LIMIT} more characters]"
        usage = step.token_usage
        self.run.add_step({
            "turn": len(self.run.manifest["turns"]),
            "step": step.step_number,
            "code": step.code_action,
            "observations": obs,
            "error": str(step.error) if step.error else None,
            "final": bool(step.is_final_answer),
            "duration_s": round(step.timing.duration, 3) if step.timing and step.timing.duration else None,
            "tokens": {"input": usage.input_tokens, "output": usage.output_tokens} if usage else None,
        })
        self.run.step = step.step_number + 1
        if self.run.budget_hit:
            self.agent.interrupt()  # stops at this step boundary; the turn ends as "budget"

    def task_text(self, goal: str) -> str:
        files = [f["path"] for f in self.run.manifest["user_files"]]
        return jinja2.Template(self.prompts["task"]).render(goal=goal, files=files, run_dir=str(self.run.dir))

    def turn(self, goal: str) -> TurnResult:
        self.run.trust_user_text(goal)  # the user's own app URLs; never the model's
        self.run.begin_turn(goal)
        self.run.step = 1
        self.board.clear()  # each turn shows its own calls
        first_step = len(self.agent.memory.steps)
        try:
            with self.board.live():
                answer = self.agent.run(self.task_text(goal), reset=self._fresh)
            self._fresh = False
        except KeyboardInterrupt:
            self.run.cancel_all()
            self._fresh = False
            self.run.end_turn("interrupted")
            return TurnResult(False, "interrupted", None, self.run.produced_files(), "interrupted")
        except AgentError as exc:
            self.run.cancel_all()
            self._fresh = False
            if self.run.budget_hit:
                message = (f"stopped after {self.run.max_space_calls} Space calls (--max-space-calls); "
                           "the run folder keeps what was made")
                self.run.end_turn("budget", message)
                return TurnResult(False, "budget", None, self.run.produced_files(), message)
            message = _first_line(str(exc))
            self.run.end_turn("failed", message)
            return TurnResult(False, "failed", None, self.run.produced_files(), message)
        steps = [s for s in self.agent.memory.steps[first_step:] if isinstance(s, ActionStep)]
        finished = any(s.is_final_answer for s in steps)
        status = "success" if finished else "max_steps"
        answer_value = answer.to_string() if hasattr(answer, "to_string") else answer
        self.run.end_turn(status, answer_value)
        error = None if finished else (f"the agent used all {self.max_steps} steps without a final answer; "
                                       "raise --max-steps or simplify the goal")
        return TurnResult(finished, status, answer_value, self.run.produced_files(), error)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "the agent failed"
    # smolagents puts the cause on the next line ("Error in generating model output:\n<cause>").
    first = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return first[:500]
