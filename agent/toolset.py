"""The toolset bound to a run, as smolagents tools. The specs (names, descriptions, inputs) live in
`spacechain.tools.toolset`; this module only adapts them and routes submissions through the run.

Tools return data (the agent's code prints what it needs); expected failures are raised as one-line
errors, which smolagents shows to the model as the step's error so it can switch Spaces."""

from __future__ import annotations

from typing import Any, Callable

from smolagents import Tool

from spacechain.tools import Job, SpacechainError
from spacechain.tools.toolset import MAX_WAIT_S, TOOLSET, ToolContext, ToolSpec

from .events import BudgetHit, CallWatch, Event
from .run import BudgetExceeded, Run

__all__ = ["MAX_WAIT_S", "RunContext", "make_tools", "smolagents_tool"]

_SMOLAGENTS_TYPES = {"string", "integer", "number", "boolean", "array", "object"}


class RunContext(ToolContext):
    """Submissions counted against the run's budget, recorded in its manifest, told to listeners."""

    def __init__(self, run: Run, emit: Callable[[Event], None] | None = None):
        super().__init__(run.client, use_cache=run.use_cache)
        self.jobs = run.jobs  # the run tracks every job its client starts
        self._run = run
        self._emit = emit or (lambda event: None)

    def submit(
        self, space: str, endpoint: str, inputs: Any, session: str | None = None, moved: dict | None = None
    ) -> Job:
        watch = CallWatch(f"{space} /{endpoint.lstrip('/')}", self._emit)
        self._emit(watch.submitted(space, endpoint, session, moved))
        try:
            with self._run.budget_slot():
                job = self.client.submit(
                    space,
                    endpoint,
                    inputs,
                    session=session,
                    use_cache=self.use_cache,
                    on_update=watch.update,
                    moved=moved,
                )
        except SpacechainError as exc:
            if isinstance(exc, BudgetExceeded):
                self._emit(BudgetHit(self._run.max_space_calls or 0))
            self._emit(watch.failed(str(exc)))
            raise
        watch.attach(job)
        return job

    def note(self, text: str) -> None:
        self._run.note(text)  # the sealed executor adds it to the step's observation


def smolagents_tool(spec: ToolSpec, ctx: ToolContext) -> Tool:
    """One spec as a smolagents Tool bound to `ctx`. The Tool object itself never reaches the model's
    code: the sandboxed executor gets a sealed callable in its place (agent/sandbox.py)."""
    inputs = {}
    for name, schema in spec.inputs.items():
        kind = schema.get("type")
        inputs[name] = {"type": kind if kind in _SMOLAGENTS_TYPES else "any", "description": schema["description"]}
        if "default" in schema:
            inputs[name]["nullable"] = True
    out = spec.output.get("type")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return spec.call(ctx, *args, **kwargs)

    cls = type(
        f"{spec.name}_tool",
        (Tool,),
        {
            "name": spec.name,
            "description": spec.description,
            "inputs": inputs,
            "output_type": out if out in _SMOLAGENTS_TYPES else "any",
            "skip_forward_signature_validation": True,
            "forward": forward,
        },
    )
    return cls()


def make_tools(run: Run, emit: Callable[[Event], None] | None = None) -> list[Tool]:
    ctx = RunContext(run, emit)
    return [smolagents_tool(spec, ctx) for spec in TOOLSET]
