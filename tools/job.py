"""One submitted call: a single SSE stream read in the background from submit to `complete`/`error`.

Closing the stream of `/call/<endpoint>/<event_id>` mid-job abandons the job and a second GET gets
404, so the stream is opened once and kept open by a thread; callers wait on it with their own
timeouts, and the job keeps running between waits. Every stop (a cancel, the call's timeout) goes one
way: the Space is told to cancel the job, then the stream is closed."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator

import httpx

from .errors import (
    BadAnswer,
    CallTimeout,
    Cancelled,
    ConnectionLost,
    GpuUnavailable,
    SpacechainError,
    UnsendableResult,
)
from .http import CallScope, call_scope, error_for, read_capped
from .stream import _parse, iter_sse, queue_events, space_error, unsendable

if TYPE_CHECKING:
    from .call import Call

__all__ = ["CallFacts", "CallRecord", "Job", "JobUpdate"]


@dataclass
class JobUpdate:
    state: str  # waiting | running | generating | retrying | downloading | complete | error
    elapsed_s: float
    queue_size: int | None = None
    eta_s: float | None = None
    partial: list | None = None  # the latest `generating` outputs, as sent (files not downloaded)
    generated: int = 0
    attempt: int = 1  # which submission of the job this is about (ZeroGPU may refuse one: it is sent again)
    note: str | None = None  # while `retrying`: why, and when the next submission goes


@dataclass
class CallFacts:
    """What one call was — where, with what, how it ended, how long it took — but its files (whose type
    the live record and the run record's entry each declare). Values only, no live objects."""

    space: str
    endpoint: str
    session: str = "default"
    inputs: Any = None
    host: str = ""
    event_id: str = ""
    status: str = "submitted"
    outputs: Any = None
    error: dict | None = None
    submitted_at: str = ""
    finished_at: str = ""
    queue_s: float | None = None  # estimated from the Space's queue size (the REST stream has no rank)
    run_s: float | None = None
    total_s: float | None = None
    generated: int = 0
    cached: bool = False
    # Earlier submissions ZeroGPU refused (no GPU free), each {"event_id", "error"}: `event_id` is the one
    # that ran.
    refused: list[dict] = field(default_factory=list)
    # Set when the call ran on another Space than the one asked for: {"from": the Space asked for,
    # "reason": the error kind (or "spread"), "message": its one line}. `space` is the one that ran it.
    moved: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CallRecord(CallFacts):
    """Everything about one call, for manifests and JSON output; its files as the client recorded them."""

    files: list[dict] = field(default_factory=list)


# How long a stop waits for the Space to hear the cancel and end the stream itself before cutting it.
CANCEL_GRACE_S = 10.0


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Job:
    """Handle on a submitted call. `result()` waits; the stream keeps being read meanwhile.

    When ZeroGPU had no GPU free (the job was refused, not run), the job submits itself again after the
    client's `RetryPolicy.gpu_waits_s`, telling its listener (`retrying`, with a note); its `event_id`
    stays the first submission's, the record's is the one that ran."""

    def __init__(
        self,
        call: Call,
        *,
        on_update: Callable[[JobUpdate], None] | None = None,
        timeout: float | None = None,
        idle_timeout: float = 120.0,
        on_done: Callable[[CallRecord], None] | None = None,
    ):
        # The call localises its outputs and frees its session when the stream ends.
        self._http, self.space, self.record, self._call = call.http, call.label, call.record, call
        self._poll_url, self._status_url = call.poll_url, call.queue_status_url
        self._on_update = on_update
        self._on_done = on_done  # told the finished record (the health ledger) before waiters wake
        # One deadline for the call: the result stream and the downloads of its outputs.
        self._scope = CallScope(timeout)
        self._deadline = self._scope.deadline
        self._timeout, self._idle = timeout, idle_timeout
        self._done = threading.Event()
        self._halt = threading.Event()  # cancelled or expired: ends a wait before a new submission
        self._result: list | None = None
        self._error: SpacechainError | None = None
        self._resp: httpx.Response | None = None
        self._cancelled = False
        self._expired = False
        self._stop_lock = threading.Lock()
        self._ended = threading.Event()  # the current submission's stream has ended: nothing to cancel there
        self._told = threading.Event()  # a stop has told the Space (or found nothing to tell)
        self._handle = call.record.event_id
        self._attempt = 1
        self._note: str | None = None  # while waiting to submit again: why, and when
        self._t0 = self._attempt_t0 = time.monotonic()
        self._first_event: float | None = None
        self._started_est: float | None = None
        self._seen_queued = False
        self._queue_size: int | None = None
        self._eta: float | None = None
        self._sampler = threading.Thread()  # the queue sampler of the current submission, once started
        self._thread = threading.Thread(target=self._run, name=f"job-{call.record.event_id[:8]}", daemon=True)
        self._thread.start()

    @classmethod
    def finished(cls, record: CallRecord, outputs: list, space: str) -> Job:
        """An already-complete job (a cache hit): no request, no thread."""
        job = cls.__new__(cls)
        job.record, job.space = record, space
        job._done, job._halt = threading.Event(), threading.Event()
        job._handle = record.event_id
        job._result, job._error, job._resp = outputs, None, None
        job._scope = CallScope(None)
        job._cancelled = job._expired = False
        job._ended, job._told = threading.Event(), threading.Event()
        record.total_s = record.queue_s = record.run_s = 0.0
        job._done.set()
        return job

    @property
    def event_id(self) -> str:
        """The handle callers were given: the first submission's id, kept when the job is sent again."""
        return self._handle

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> list:
        if not self._done.wait(timeout):
            raise CallTimeout(
                f"{self.space}: still running after {timeout:g} s (event {self.event_id}); wait again or cancel it."
            )
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def cancel(self) -> None:
        """Stop the job: the Space is told to cancel it and the stream is closed (a download in progress is
        cut too). Returns at once; `wait()`, and the client's close, return once the Space was told."""
        self._stop("cancelled")

    def _stop(self, reason: str) -> None:
        """The one way a job stops (cancelled or expired). Closing the stream alone leaves a running job
        running and the endpoint's queue waiting behind it, so the Space is asked to cancel it first, as
        gradio_client does, and given a moment to end the stream with its own last event (read here, so it
        cannot reach the session's next call)."""
        if self._done.is_set():
            return
        with self._stop_lock:
            if self._cancelled or self._expired:
                return
            self._cancelled, self._expired = reason == "cancelled", reason == "expired"
        self._halt.set()
        self._http.last_words(self._free_space, reason)  # the client's close waits for it

    def _free_space(self, reason: str) -> None:
        try:
            told = not self._ended.is_set() and self._call.cancel_on_space()
        finally:
            self._told.set()
        if told:
            self._ended.wait(CANCEL_GRACE_S)
        self._scope.stop(reason)

    # ---- background ----
    def _emit(self, state: str, partial: list | None = None) -> None:
        if self._on_update:
            try:
                self._on_update(
                    JobUpdate(
                        state,
                        time.monotonic() - self._t0,
                        self._queue_size,
                        self._eta,
                        partial,
                        self.record.generated,
                        self._attempt,
                        self._note if state == "retrying" else None,
                    )
                )
            except Exception:  # a display callback must never break the job
                pass

    def _expire(self) -> None:
        self._stop("expired")

    def _run(self) -> None:
        timer = threading.Timer(self._timeout, self._expire) if self._timeout else None
        try:
            if timer:
                timer.daemon = True
                timer.start()
            self._error = self._read()
            if isinstance(self._error, UnsendableResult):
                self._error = self._by_queue(self._error)
            waits = self._http.retry.gpu_waits_s
            for wait in waits:
                if not isinstance(self._error, GpuUnavailable):
                    break
                self._error = self._submit_again(self._error, wait, len(waits) + 1) or self._read()
        finally:
            if timer:
                timer.cancel()
            if self._error is not None:
                self.record.status = "error"
                self.record.error = self._error.to_dict()
                self._error.record = self.record
                self._emit("error")
            self._stamp()
            if self._halt.is_set():
                self._told.wait(CANCEL_GRACE_S)  # a late cancel must not reach the session's next call
            self._call.release()
            if self._on_done:
                try:
                    self._on_done(self.record)
                except Exception:  # an observer must never keep a job from ending
                    pass
            self._done.set()

    def _submit_again(self, refused: SpacechainError, wait: float, attempts: int) -> SpacechainError | None:
        """After `wait` seconds (cut short by a cancel or the timeout), submit the call again with the
        session still held; the error that ends the job instead, if any."""
        self.record.refused.append({"event_id": self.record.event_id, "error": refused.to_dict()})
        self._note = (
            f"no ZeroGPU GPU was free; submitting again in {wait:g} s (attempt {self._attempt + 1} of {attempts})"
        )
        self._emit("retrying")
        try:
            if self._halt.wait(wait):
                return self._stopped()
            sent = self._resend()
        finally:
            self._note = None
        if sent is None:
            self._attempt += 1
        return sent

    def _by_queue(self, unsent: UnsendableResult) -> SpacechainError | None:
        """The Space ran the call but `/call` could not encode its result: send it again by gradio's queue
        route when that is safe (the endpoint's later calls go that way from the start); else the error."""
        if self._halt.is_set():
            return unsent
        if self._call.to_queue_route():
            return self._resend() or self._read()
        if self._call.endpoint.api_name in self._call.space.queue_routed:
            return unsendable(self.space, unsent.detail, stateful=True)
        return unsent

    def _resend(self) -> SpacechainError | None:
        """Submit the call again with the session still held; the error that ends the job, if any."""
        try:
            with call_scope(self._scope):
                self._call.send()
        except SpacechainError as exc:
            return exc
        self._ended.clear()
        if self._halt.is_set():  # stopped while this submission was on its way
            self._call.cancel_on_space()
        self._attempt_t0, self._first_event, self._started_est = time.monotonic(), None, None
        self._poll_url = self._call.poll_url
        return None

    def _stopped(self) -> SpacechainError:
        """The error of a job we stopped: past its timeout, or cancelled."""
        if self._expired:
            return CallTimeout(
                f"{self.space}: no result after {self._timeout:g} s, so the job was "
                "cancelled; retry with a longer timeout or pick a faster Space."
            )
        return Cancelled(f"{self.space}: the call was cancelled.")

    def _read(self) -> SpacechainError | None:
        """Read one submission's result stream to its end: None when the outputs are in, else the error."""
        if not self._sampler.is_alive():  # one at a time: it ends once the submission is seen running
            self._sampler = threading.Thread(target=self._sample_queue, daemon=True)
            self._sampler.start()
        last_event: tuple[str, Any] | None = None
        try:
            with (
                call_scope(self._scope),
                self._http.client.stream(
                    "GET",
                    self._poll_url,
                    headers={"accept": "text/event-stream"},
                    timeout=httpx.Timeout(connect=10.0, read=self._idle, write=30.0, pool=30.0),
                ) as resp,
                self._scope.track(resp),
            ):
                self._resp = resp
                what = f"Reading the result of {self.space}"
                if not resp.is_success:
                    read_capped(resp, self._http.limits.max_error_bytes, what, truncate=True)
                    raise error_for(resp, what)
                if "text/event-stream" not in resp.headers.get("content-type", ""):
                    raise BadAnswer(
                        f"{what}: the server answered {resp.headers.get('content-type') or 'untyped'} "
                        "data, not an event stream; is it a Gradio app?"
                    )
                for event, data in self._events(resp, what):
                    last_event = (event, data)
                    if event in ("heartbeat", "estimation", "started"):
                        self._queued(event, data)
                        continue
                    if self._first_event is None:
                        self._first_event = time.monotonic()
                    if event in ("complete", "error"):
                        self._ended.set()
                        if self._expired or self._cancelled:
                            return self._stopped()  # the Space's own end of a job it was told to cancel
                    if event == "generating":
                        self.record.generated += 1
                        self._emit("generating", data if isinstance(data, list) else [data])
                    elif event == "complete":
                        self._finish_ok(data)
                        return None
                    elif event == "error":
                        raise space_error(data, self.space)
                if self._expired or self._cancelled:
                    raise httpx.ReadError("closed")  # cut by us: reported below as the timeout or cancel it was
                raise ConnectionLost(f"{self.space}: the result stream ended without a result; retry the call.")
        except SpacechainError as exc:
            return exc
        except (httpx.TransportError, httpx.StreamError) as exc:
            if last_event and last_event[0] == "error":
                # gradio raises after yielding an error, so the chunked body is cut: the event wins.
                return space_error(last_event[1], self.space)
            if self._expired or self._cancelled:
                return self._stopped()
            if isinstance(exc, httpx.ReadTimeout):
                return CallTimeout(
                    f"{self.space}: no event for {self._idle:g} s (not even a heartbeat); "
                    "the Space looks stuck, so the job was abandoned; retry later."
                )
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                return ConnectionLost(
                    f"{self.space}: cannot connect to read the result; the server is "
                    "down: retry later or pick another Space."
                )
            return ConnectionLost(
                f"{self.space}: the connection was lost before the result "
                f"({exc.__class__.__name__}); the server may have died: retry later."
            )
        except Exception as exc:  # a bug must surface as an error, never as a hang
            return SpacechainError(f"{self.space}: unexpected failure reading the result: {exc!r}")
        finally:
            self._ended.set()

    def _events(self, resp: httpx.Response, what: str) -> Iterator[tuple[str, Any]]:
        """(event, data) of the stream in the `/call` route's terms, whichever route the call took."""
        sse = iter_sse(resp, self._http.limits.max_event_bytes, what)
        if self._call.route == "queue":
            return queue_events(sse, self.record.event_id)
        return ((event, _parse(text)) for event, text in sse)

    def _queued(self, event: str, data: Any) -> None:
        """A heartbeat, or what only the queue route tells: the job's place in the queue, its start."""
        if event == "estimation":
            size, eta = data.get("queue_size"), data.get("rank_eta")
            self._queue_size = size if isinstance(size, int) and not isinstance(size, bool) else self._queue_size
            self._eta = eta if isinstance(eta, (int, float)) and not isinstance(eta, bool) else None
            self._seen_queued = self._seen_queued or bool(data.get("rank"))
        elif event == "started":
            self._started_est, self._queue_size = time.monotonic(), 0
        self._emit(self._state())

    def _finish_ok(self, data: Any) -> None:
        self._emit("downloading")
        outputs = data if isinstance(data, list) else [data]
        self._result = self._call.localise(outputs)
        self.record.outputs = self._result
        self.record.status = "complete"
        self._emit("complete")

    def _stamp(self) -> None:
        self.record.finished_at = _now_iso()
        end = time.monotonic()
        self.record.total_s = round(end - self._t0, 4)
        if self._seen_queued and self._started_est is None:
            # Others were waiting while this ran, or it waited and was never seen start: the
            # Space-wide queue size cannot tell which, so the split is unknown rather than wrong.
            self.record.queue_s = self.record.run_s = None
            return
        started = self._started_est or self._t0
        self.record.queue_s = round(started - self._t0, 4)
        self.record.run_s = round(end - started, 4)

    def _state(self) -> str:
        if self._note:
            return "retrying"
        if self.record.generated:
            return "generating"
        # The Space-wide queue size cannot tell whether this job waits or runs while others wait, so
        # only an empty queue proves it runs.
        return "running" if self._queue_size == 0 else "waiting"

    def _sample_queue(self) -> None:
        """Space-wide queue size while waiting: the only queue signal the REST protocol offers."""
        delay = 0.75
        while not self._done.wait(delay):
            if self._first_event is not None and self._started_est is not None:
                return
            try:
                resp = self._http.request(
                    "GET",
                    self._status_url,
                    what="Reading the queue",
                    retry_on=(),
                    resend_after_connect=False,
                    max_bytes=64 << 10,
                    timeout=5.0,
                )
                body = resp.json()
            # RuntimeError: the client closed (run ended)
            except (SpacechainError, ValueError, RecursionError, RuntimeError):
                body = {}
            size = body.get("queue_size") if isinstance(body, dict) else None
            if isinstance(size, int) and not isinstance(size, bool):
                self._queue_size = size
                eta = body.get("rank_eta")
                self._eta = eta if isinstance(eta, (int, float)) and not isinstance(eta, bool) else None
                if size > 0:
                    self._seen_queued = True
                elif self._started_est is None:
                    # Never seen waiting in the queue: it started when submitted (the time a refused
                    # submission took counts as waiting).
                    self._started_est = time.monotonic() if self._seen_queued else self._attempt_t0
            self._emit(self._state())
            delay = 2.0
