"""What the planner tells its listeners as a turn goes. Front ends — the terminal board, `--json`, the
studio, MCP progress — are listeners; none of them is drawn from inside the planner or the toolset.

Every event is a frozen dataclass of plain values; `to_dict()` gives its JSON form with an "event" key."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from spacechain.tools.toolset import plain

if TYPE_CHECKING:
    from spacechain.tools import Job, JobUpdate

__all__ = [
    "BudgetHit",
    "CallFinished",
    "CallSubmitted",
    "CallUpdated",
    "CallWatch",
    "Emitter",
    "Event",
    "FinalAnswer",
    "Listener",
    "StepCode",
    "StepEvent",
    "StepFinished",
    "StepStarted",
    "TextDelta",
    "TurnEnded",
    "TurnStarted",
    "moved_text",
    "one_line",
]

log = logging.getLogger("spacechain")


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


@dataclass(frozen=True)
class TurnStarted(Event):
    kind: ClassVar[str] = "turn_started"
    turn: int
    goal: str


@dataclass(frozen=True)
class TurnEnded(Event):
    kind: ClassVar[str] = "turn_ended"
    turn: int
    status: str  # success | max_steps | failed | interrupted | budget
    answer: Any = None
    error: str | None = None
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StepEvent(Event):
    """About one step of a turn: its fields start with (turn, step), in the constructor and in to_dict()."""

    turn: int
    step: int


@dataclass(frozen=True)
class StepStarted(StepEvent):
    kind: ClassVar[str] = "step_started"


@dataclass(frozen=True)
class TextDelta(StepEvent):
    """A piece of the model's reply as it streams (only when the backend streams)."""

    kind: ClassVar[str] = "text_delta"
    text: str


@dataclass(frozen=True)
class StepCode(StepEvent):
    """The code of a step, about to run."""

    kind: ClassVar[str] = "step_code"
    code: str


@dataclass(frozen=True)
class StepFinished(StepEvent):
    kind: ClassVar[str] = "step_finished"
    thought: str | None
    code: str | None
    observations: str | None
    error: str | None
    final: bool
    duration_s: float | None
    tokens_in: int | None
    tokens_out: int | None


@dataclass(frozen=True)
class CallSubmitted(Event):
    kind: ClassVar[str] = "call_submitted"
    call: str  # "owner/name /endpoint", the label every later event of this call carries
    space: str
    endpoint: str
    session: str | None
    n: int = 0  # the call's number (1 on) in this process: tells apart parallel calls of one endpoint
    moved_from: str | None = None  # the Space asked for, when this call runs on an equivalent instead
    moved_because: str | None = None  # the error kind that moved it (or "spread")

    def moved(self) -> str:
        return moved_text(self.moved_from, self.moved_because)


def moved_text(moved_from: str | None, because: str | None) -> str:
    """'in place of owner/name (not running)' for a call that moved to an equivalent Space; else ""."""
    if not moved_from:
        return ""
    why = _MOVED_WHY.get(because or "", because or "")
    return f"in place of {moved_from}" + (f" ({one_line(why, 60)})" if why else "")


_MOVED_WHY = {
    "space_not_running": "not running",
    "quota_exceeded": "ZeroGPU quota spent",
    "gpu_unavailable": "no GPU free",
    "queue_full": "queue full",
    "http_error": "gone",
    "spread": "spread over equivalents",
}


@dataclass(frozen=True)
class CallUpdated(Event):
    kind: ClassVar[str] = "call_updated"
    call: str
    state: str  # waiting | running | generating | retrying | downloading
    elapsed_s: float
    queue_size: int | None = None
    eta_s: float | None = None
    generated: int = 0
    partial: list | None = None
    n: int = 0
    attempt: int = 1  # the submission this is about: ZeroGPU may refuse one, which is then sent again
    note: str | None = None  # while retrying: why, and when the next submission goes

    def latest(self, limit: int = 160) -> str:
        """What a generating call sent last, in a few words: its first text output, else its first file's
        name (partial files are not downloaded); "" without a partial."""
        outputs = self.partial or []
        for value in outputs:
            if isinstance(value, str) and value.strip():
                return one_line(value, limit)
        for value in outputs:
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                name = value.get("orig_name") or value["path"].rsplit("/", 1)[-1]
                return f"file {one_line(name, limit // 2)}"
        return one_line(outputs, limit) if outputs else ""


def one_line(text: Any, limit: int = 300) -> str:
    """`text` on one line, at most `limit` characters (cut with an ellipsis)."""
    line = " ".join(str(text)[: limit * 4].split())  # a streaming Space may resend megabytes each time
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class CallFinished(Event):
    kind: ClassVar[str] = "call_finished"
    call: str
    state: str  # complete | cached | error | cancelled
    elapsed_s: float
    event_id: str = ""
    outputs: Any = None
    files: list[str] = field(default_factory=list)
    error: str | None = None
    n: int = 0


@dataclass(frozen=True)
class FinalAnswer(Event):
    kind: ClassVar[str] = "final_answer"
    turn: int
    answer: Any


@dataclass(frozen=True)
class BudgetHit(Event):
    kind: ClassVar[str] = "budget_hit"
    limit: int


Listener = Callable[[Event], None]


_CALL_NUMBERS = itertools.count(1)


class CallWatch:
    """One call's updates as events. Its end is told from the job's own last update, which comes before
    the job counts as done, so a listener sees an output before the model's code can pass it on."""

    def __init__(self, label: str, emit: Callable[[Event], None]):
        self.label, self._emit = label, emit
        self.n = next(_CALL_NUMBERS)
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._ended = self._told = False

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def update(self, u: JobUpdate) -> None:
        if u.state not in ("complete", "error", "cached"):
            with self._lock:
                ended = self._ended
            if not ended:  # the queue sampler may still report once the call has ended: it must not undo it
                self._emit(
                    CallUpdated(
                        self.label,
                        u.state,
                        u.elapsed_s,
                        u.queue_size,
                        u.eta_s,
                        u.generated,
                        u.partial,
                        self.n,
                        u.attempt,
                        u.note,
                    )
                )
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
        self._emit(
            CallFinished(
                self.label,
                "cached" if rec.cached else rec.status,
                self.elapsed(),
                rec.event_id,
                plain(rec.outputs),
                files,
                error,
                self.n,
            )
        )

    def submitted(self, space: str, endpoint: str, session: str | None, moved: dict | None = None) -> CallSubmitted:
        moved = moved or {}
        return CallSubmitted(self.label, space, endpoint, session, self.n, moved.get("from"), moved.get("reason"))

    def failed(self, error: str) -> CallFinished:
        """The call refused before it reached the Space (invalid inputs, the budget, an unsafe file)."""
        return CallFinished(self.label, "error", self.elapsed(), error=error, n=self.n)


class JsonReport:
    """The `--json` front end: a listener that keeps each finished call and the turn's end, and gives
    the result object a script reads (the same events the terminal board and the studio see)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.end: TurnEnded | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, CallFinished):
            self.calls.append({k: v for k, v in event.to_dict().items() if k != "event"})
        elif isinstance(event, TurnEnded):
            self.end = event

    def result(self, **extra: Any) -> dict:
        end = self.end or TurnEnded(0, "failed", error="the turn did not end")
        return {
            "success": end.status == "success",
            "status": end.status,
            "final_answer": end.answer,
            **extra,
            "files": end.files,
            "calls": self.calls,
            "error": end.error,
        }


class Emitter:
    """Hands each event to every listener in order. A listener that fails is logged and skipped: a
    broken display must not stop a run that spends GPU time."""

    def __init__(self, listeners: list[Listener] | tuple[Listener, ...] = ()):
        self._listeners = list(listeners)
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("an event listener failed on %s", event.kind)
