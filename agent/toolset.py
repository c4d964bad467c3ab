"""The toolset bound to a run, as smolagents tools. The specs (names, descriptions, inputs) live in
`spacechain.tools.toolset`; this module only adapts them and routes submissions through the run.

Tools return data (the agent's code prints what it needs); expected failures are raised as one-line
errors, which smolagents shows to the model as the step's error so it can switch Spaces."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from smolagents import Tool
from spacechain.tools import Job, JobUpdate, SpacechainError
from spacechain.tools.toolset import MAX_WAIT_S, TOOLSET, ToolContext, ToolSpec, plain

from .events import BudgetHit, CallFinished, CallSubmitted, CallUpdated, Event
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

    def submit(self, space: str, endpoint: str, inputs: Any, session: str | None = None) -> Job:
        label = f"{space} /{endpoint.lstrip('/')}"
        self._emit(CallSubmitted(label, space, endpoint, session))
        watch = _Watch(label, self._emit)
        try:
            with self._run.budget_slot():
                job = self.client.submit(space, endpoint, inputs, session=session, use_cache=self.use_cache,
                                         on_update=watch.update)
        except SpacechainError as exc:
            if isinstance(exc, BudgetExceeded):
                self._emit(BudgetHit(self._run.max_space_calls or 0))
            self._emit(CallFinished(label, "error", watch.elapsed(), error=str(exc)))
            raise
        watch.attach(job)
        return job


class _Watch:
    """One call's updates as events. Its end is told from the job's own last update, which comes before
    the job counts as done, so a listener sees an output before the model's code can pass it on."""

    def __init__(self, label: str, emit: Callable[[Event], None]):
        self.label, self._emit = label, emit
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._ended = self._told = False

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def update(self, u: JobUpdate) -> None:
        if u.state not in ("complete", "error", "cached"):
            self._emit(CallUpdated(self.label, u.state, u.elapsed_s, u.queue_size, u.eta_s, u.generated, u.partial))
            return
        with self._lock:
            self._ended = True
        self._tell()

    def attach(self, job: Job) -> None:
        with self._lock:
            self._job = job
            self._ended = self._ended or job.done()
        self._tell()

    def _tell(self) -> None:
        with self._lock:
            if self._told or not self._ended or self._job is None:
                return
            self._told, rec = True, self._job.record
        files = [f["local"] for f in rec.files if f.get("direction") == "out"]
        error = (rec.error or {}).get("message") if rec.error else None
        self._emit(CallFinished(self.label, "cached" if rec.cached else rec.status, self.elapsed(), rec.event_id,
                                plain(rec.outputs), files, error))


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

    cls = type(f"{spec.name}_tool", (Tool,), {
        "name": spec.name, "description": spec.description, "inputs": inputs,
        "output_type": out if out in _SMOLAGENTS_TYPES else "any",
        "skip_forward_signature_validation": True, "forward": forward,
    })
    return cls()


def make_tools(run: Run, emit: Callable[[Event], None] | None = None) -> list[Tool]:
    ctx = RunContext(run, emit)
    return [smolagents_tool(spec, ctx) for spec in TOOLSET]
