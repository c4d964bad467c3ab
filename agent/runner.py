"""The planner: a CodeAgent on top of the toolset that runs goals (one-shot or turn after turn) and
tells listeners what happens (agent/events.py). It draws nothing itself: the terminal, `--json`, the
studio and MCP are listeners, and the smolagents logger is the front end's to give."""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jinja2
import yaml
from smolagents import CodeAgent
from smolagents.memory import ActionStep, FinalAnswerStep, ToolCall
from smolagents.models import ChatMessageStreamDelta
from smolagents.monitoring import AgentLogger, LogLevel
from smolagents.utils import AgentError

from .events import (
    Emitter,
    FinalAnswer,
    Listener,
    StepCode,
    StepFinished,
    StepStarted,
    TextDelta,
    TurnEnded,
    TurnStarted,
)
from .run import Run
from .sandbox import SealedExecutor
from .toolset import make_tools

__all__ = ["Planner", "TurnResult", "load_prompts"]

OBSERVATION_LIMIT = 4000  # characters of printed output the model sees per step
STEP_RECORD_LIMIT = 2000  # characters of each step's observations kept in the manifest
_CODE_OPEN = re.compile(r"<code>|```(?:py|python)?\n")


def load_prompts() -> dict:
    """spacechain's system prompt and task template over smolagents' own planning and final-answer
    templates (their mechanics stay smolagents')."""
    base = importlib.resources.files("smolagents.prompts").joinpath("code_agent.yaml").read_text()
    ours = importlib.resources.files("spacechain.prompts").joinpath("code_agent.yaml").read_text()
    return {**yaml.safe_load(base), **yaml.safe_load(ours)}


@dataclass
class TurnResult:
    success: bool
    status: str  # success | max_steps | failed | interrupted | budget
    answer: Any
    files: list[str] = field(default_factory=list)
    error: str | None = None


class Planner:
    """One CodeAgent bound to one Run. `turn(goal)` runs a goal; memory is kept between turns.

    `listeners` get every event; `logger` is smolagents' step log (silent unless a front end gives
    one); `stream` streams the model's tokens (TextDelta events) when the backend can."""

    def __init__(
        self,
        run: Run,
        model,
        *,
        max_steps: int = 20,
        listeners: list[Listener] | tuple = (),
        logger: AgentLogger | None = None,
        stream: bool = False,
    ):
        self.run = run
        self.model = model
        self.max_steps = max_steps
        self.events = Emitter(listeners)
        self.logger = logger or AgentLogger(level=LogLevel.OFF)
        self.stream = stream
        self.prompts = load_prompts()
        self._fresh = True  # the next turn starts a new conversation
        self._turn = 0
        self._stopping = False  # stop() was called during the running turn
        self.agent = self._build()

    def _build(self) -> CodeAgent:
        return CodeAgent(
            tools=make_tools(self.run, emit=self.events.emit),
            model=self.model,
            prompt_templates={k: v for k, v in self.prompts.items() if k != "task"},
            # Only smolagents' base modules: the security stance allows no extra imports.
            additional_authorized_imports=[],
            max_steps=self.max_steps,
            # Sealed tools and checked code (agent/sandbox.py). No step timeout: smolagents' timeout
            # cannot stop a step, it only waits and then discards the result (and blocks Ctrl-C).
            # Every tool bounds its own waits instead.
            executor=SealedExecutor(
                [], max_print_outputs_length=OBSERVATION_LIMIT, timeout_seconds=None, notes=self.run.take_notes
            ),
            max_print_outputs_length=OBSERVATION_LIMIT,
            stream_outputs=self.stream and callable(getattr(self.model, "generate_stream", None)),
            step_callbacks={ActionStep: self._on_step},
            logger=self.logger,
        )

    def reset(self) -> None:
        """Forget the conversation (and the executor's variables, which survive agent.run(reset=True))."""
        self.agent = self._build()
        self._fresh = True

    def stop(self) -> None:
        """End the running turn from another thread (a front end's Stop button): its Space jobs are
        cancelled and the agent stops at the next step boundary; the turn ends as "interrupted"."""
        self._stopping = True
        self.agent.interrupt()
        self.run.cancel_all()

    def set_model(self, model) -> None:
        self.model = model
        self.agent.model = model

    def _on_step(self, step: ActionStep, agent=None) -> None:
        obs = step.observations or ""
        if len(obs) > STEP_RECORD_LIMIT:
            obs = obs[:STEP_RECORD_LIMIT] + f"… [{len(obs) - STEP_RECORD_LIMIT} more characters]"
        usage = step.token_usage
        duration = round(step.timing.duration, 3) if step.timing and step.timing.duration else None
        error = str(step.error) if step.error else None
        self.run.add_step(
            {
                "turn": len(self.run.manifest["turns"]),
                "step": step.step_number,
                "thought": _thought(step.model_output),
                "code": step.code_action,
                "observations": obs,
                "error": error,
                "final": bool(step.is_final_answer),
                "duration_s": duration,
                "tokens": {"input": usage.input_tokens, "output": usage.output_tokens} if usage else None,
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            }
        )
        self.events.emit(
            StepFinished(
                self._turn,
                step.step_number,
                _thought(step.model_output),
                step.code_action,
                step.observations,
                error,
                bool(step.is_final_answer),
                duration,
                usage.input_tokens if usage else None,
                usage.output_tokens if usage else None,
            )
        )
        self.run.step = step.step_number + 1
        if self.run.budget_hit:
            self.agent.interrupt()  # stops at this step boundary; the turn ends as "budget"
        elif not step.is_final_answer and step.step_number < self.max_steps:
            self.events.emit(StepStarted(self._turn, step.step_number + 1))

    def task_text(self, goal: str) -> str:
        files = [f["path"] for f in self.run.manifest["user_files"]]
        return jinja2.Template(self.prompts["task"]).render(goal=goal, files=files, run_dir=str(self.run.dir))

    def turn(self, goal: str) -> TurnResult:
        self.run.trust_user_text(goal)  # the user's own app URLs; never the model's
        self.run.begin_turn(goal)
        self._stopping = False
        self._turn = len(self.run.manifest["turns"])
        self.run.step = 1
        self.events.emit(TurnStarted(self._turn, goal))
        self.events.emit(StepStarted(self._turn, 1))
        try:
            result = self._turn_result(goal)
        except BaseException as exc:  # unexpected: listeners still see the turn end (a live display stops)
            self.events.emit(TurnEnded(self._turn, "failed", None, _first_line(str(exc))))
            raise
        self.events.emit(TurnEnded(self._turn, result.status, result.answer, result.error, result.files))
        return result

    def _turn_result(self, goal: str) -> TurnResult:
        first_step = len(self.agent.memory.steps)
        answer = None
        try:
            for item in self.agent.run(self.task_text(goal), reset=self._fresh, stream=True):
                answer = self._on_stream(item, answer)
            self._fresh = False
        except KeyboardInterrupt:
            return self._stopped("interrupted", "interrupted")
        except AgentError as exc:
            if self._stopping:  # smolagents reports its interrupt as an AgentError
                return self._stopped("interrupted", "interrupted")
            if self.run.budget_hit:
                return self._stopped(
                    "budget",
                    f"stopped after {self.run.max_space_calls} Space calls "
                    "(--max-space-calls); the run folder keeps what was made",
                )
            return self._stopped("failed", _first_line(str(exc)))
        steps = [s for s in self.agent.memory.steps[first_step:] if isinstance(s, ActionStep)]
        finished = any(s.is_final_answer for s in steps)
        status = "success" if finished else "max_steps"
        answer_value = answer.to_string() if answer is not None and hasattr(answer, "to_string") else answer
        self.run.end_turn(status, answer_value)
        if finished:
            self.events.emit(FinalAnswer(self._turn, answer_value))
        error = (
            None
            if finished
            else (
                f"the agent used all {self.max_steps} steps without a final answer; "
                "raise --max-steps or simplify the goal"
            )
        )
        return TurnResult(finished, status, answer_value, self.run.produced_files(), error)

    def _on_stream(self, item: Any, answer: Any) -> Any:
        step = self.run.step or 1
        if isinstance(item, ChatMessageStreamDelta) and item.content:
            self.events.emit(TextDelta(self._turn, step, item.content))
        elif isinstance(item, ToolCall) and item.name == "python_interpreter":
            self.events.emit(StepCode(self._turn, step, str(item.arguments)))
        elif isinstance(item, FinalAnswerStep):
            return item.output
        return answer

    def _stopped(self, status: str, message: str) -> TurnResult:
        self.run.cancel_all()
        self._fresh = False
        self.run.end_turn(status, message if status != "interrupted" else None)
        return TurnResult(False, status, None, self.run.produced_files(), message)


def _thought(model_output: Any) -> str | None:
    """The reply's text before its code: what the model said it would do."""
    if not isinstance(model_output, str):
        return None
    text = _CODE_OPEN.split(model_output, maxsplit=1)[0].strip()
    return text.removeprefix("Thought:").strip() or None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "the agent failed"
    # smolagents puts the cause on the next line ("Error in generating model output:\n<cause>").
    first = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return first[:500]
