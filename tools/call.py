"""One call on its way: what the client prepared for it (Space, endpoint, session, files, cache book, record)
and the steps that belong to it alone — upload its files, post it with the session held, answer it from the
cache, and, for the Job reading its stream, localise the outputs and free the session."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .errors import BadAnswer, SessionBusy, SpacechainError
from .files import FileIO, sha256_file
from .http import CallScope, call_scope
from .job import CallRecord, Job, JobUpdate, _now_iso
from .kinds import sniff
from .nested import KEEP, is_filedata, transform
from .schema import Endpoint
from .space import Session, Space
from .statebook import StateBook

if TYPE_CHECKING:
    from .http import Http

__all__ = ["Call"]

_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
CANCEL_TIMEOUT_S = 5.0


@dataclass
class Call:
    """A call between its validation and its end. The client makes it and walks it through the ladder; the
    Job reading its result stream asks it to `localise` the outputs and to `release` the session."""

    http: Http
    space: Space
    endpoint: Endpoint
    session: Session
    files: FileIO
    record: CallRecord
    book: StateBook | None = None  # set once the inputs are validated (the key is made from them)
    data: list | None = None  # what was submitted (files uploaded), for a new submission of the same call
    # "call": the REST route (`/call/<endpoint>`); "queue": gradio's queue route (`/queue/join`), which
    # encodes what /call cannot (pandas timestamps, numpy scalars, PIL images in a table) as text.
    route: str = "call"

    @classmethod
    def open(cls, http: Http, space: Space, endpoint: Endpoint, session: Session, files: FileIO, inputs: Any) -> Call:
        """A call with its record begun (the inputs as given, JSON-safe, and the time)."""
        record = CallRecord(
            space=space.label,
            endpoint=endpoint.name,
            session=session.name,
            inputs=_plain(inputs),
            host=space.contract.host,
            submitted_at=_now_iso(),
        )
        route = "queue" if endpoint.api_name in space.queue_routed else "call"
        return cls(http, space, endpoint, session, files, record, route=route)

    @property
    def label(self) -> str:
        return self.space.label

    @property
    def poll_url(self) -> str:
        if self.route == "queue":  # the session's stream: every job of the session, each message tagged
            return f"{self.space.api_root}/queue/data?session_hash={self.session.hash}"
        url = self.space.contract.poll_url.replace("{endpoint}", self.endpoint.api_name)
        return url.replace("{event_id}", self.record.event_id)

    @property
    def queue_status_url(self) -> str:
        return f"{self.space.api_root}/queue/status"

    def upload(self, values: list, given: dict, timeout: float | None) -> list:
        """The data to submit: file inputs uploaded (a file URL among them fetched within the call's time)."""
        with call_scope(CallScope(timeout)):
            return [
                self.files.shape_input(p, v) if p.takes_files and p.name in given and v is not None else v
                for p, v in zip(self.endpoint.params, values)
            ]

    def post(self, data: list, wait: float) -> None:
        """Submit with the session held (one call at a time per session); held until `release()`."""
        sp, sess = self.space, self.session
        if not sess.lock.acquire(timeout=wait):
            raise SessionBusy(
                f"{sp.label}: session '{sess.name}' is still busy with event {sess.busy} after "
                f"{wait:g} s; wait for that call to finish, or use another session name."
            )
        self.data = data
        try:
            self.send()
        except BaseException:
            sess.lock.release()
            raise

    def send(self) -> None:
        """Send the submission, the session being held (again when ZeroGPU refused the last one: the
        files stay uploaded)."""
        sp, ep, sess = self.space, self.endpoint, self.session
        url, body = f"{sp.api_root}/call/{ep.api_name}", {"data": self.data, "session_hash": sess.hash}
        if self.route == "queue":
            url, body = f"{sp.api_root}/queue/join", self._queue_body()
        resp = self.http.request(
            "POST",
            url,
            what=f"Calling {sp.label}{ep.name}",
            json=body,
            # Only "not accepted" answers are retried: a second submission of an accepted job
            # would run it twice.
            retry_on=(429, 503),
            resend_after_connect=True,
        )
        sess.busy = self.record.event_id = _event_id(resp, f"{sp.label}{ep.name}")
        if self.book is not None:
            self.book.submitted()

    def _queue_body(self) -> dict:
        """What `/queue/join` takes: the dependency's every input (None where gr.State goes: the session
        holds it), its fn_index and the session."""
        cfg = self.space.app_config(self.http)
        hidden = (cfg.state_slots(self.endpoint.api_name) or ([], []))[0]
        given = iter(self.data or [])
        data = [None if h else next(given, None) for h in hidden] if hidden else list(self.data or [])
        fn_index = cfg.fn_index(self.endpoint.api_name)
        return {"data": data, "fn_index": fn_index, "session_hash": self.session.hash, "event_data": None}

    def to_queue_route(self) -> bool:
        """Send this endpoint's calls on this Space by gradio's queue route from now on, which can return
        what `/call` could not encode; whether this call may be sent again that way (it ran once, so only
        when it reads and writes no gr.State)."""
        cfg, api = self.space.app_config(self.http), self.endpoint.api_name
        slots = cfg.state_slots(api)
        if cfg.fn_index(api) is None or slots is None:
            return False
        self.space.queue_routed.add(api)
        if any(slots[0]) or any(slots[1]):
            return False
        self.route = "queue"
        return True

    def cancel_on_space(self) -> bool:
        """Ask the Space to cancel this call's job: `POST /cancel` with its event, session and fn_index, as
        gradio_client does; a queued job leaves the queue, a running one is stopped (a sync function's
        thread runs on, but its place in the queue is freed). Best effort: False when it could not be told."""
        sp, ep = self.space, self.endpoint
        try:
            fn_index = sp.app_config(self.http).fn_index(ep.api_name)
            if fn_index is None:
                return False
            self.http.request(
                "POST",
                f"{sp.api_root}/cancel",
                what=f"Cancelling {sp.label}{ep.name}",
                json={"event_id": self.record.event_id, "session_hash": self.session.hash, "fn_index": fn_index},
                retry_on=(),
                resend_after_connect=False,
                max_bytes=64 << 10,
                timeout=CANCEL_TIMEOUT_S,
            )
        # RuntimeError: the client closed (the run ended)
        except (SpacechainError, RuntimeError):
            return False
        return True

    def release(self) -> None:
        """Free the session for its next call (once, when the stream has ended or was never started)."""
        self.session.busy = None
        self.session.lock.release()

    def localise(self, outputs: list) -> list:
        """The outputs as the schema lists them, every file downloaded; the cache and State told."""
        ep, files = self.endpoint, self.files
        if len(outputs) != len(ep.returns):
            # gradio sends a null for each gr.State output although /info lists none: drop them so
            # outputs line up with the schema.
            mask = (self.space.app_config(self.http).state_slots(ep.api_name) or ([], []))[1]
            if len(mask) == len(outputs):
                outputs = [v for v, hidden in zip(outputs, mask) if not hidden]
        files.out_dir.mkdir(parents=True, exist_ok=True)
        result = files.localise(outputs, ep.api_name, ep.returns)
        self.record.files = [vars(f) for f in files.records]
        if self.book is not None:
            downloaded = {f.local for f in files.records if f.direction == "out"}
            flagged = any(f.problem for f in files.records)
            self.book.finished(self.label, ep.name, result, downloaded, flagged=flagged)
        return result

    def from_cache(
        self, inputs: Any, hit: list, restored: list[str], on_update: Callable[[JobUpdate], None] | None
    ) -> Job:
        """A finished Job for a cache hit: the stored outputs restored into the output folder, recorded as cached."""
        assert self.book is not None and self.book.key is not None  # a hit has a key
        self.book.served_from_cache(self.endpoint.name, inputs)
        record = self.record
        record.status, record.outputs, record.cached = "complete", hit, True
        record.event_id = f"cached-{self.book.key[:16]}"
        record.finished_at = record.submitted_at
        record.files = [
            {
                "local": p,
                "sha256": sha256_file(p),
                "size": os.path.getsize(p),
                "direction": "out",
                "cached": True,
                "kind": sniff(p),
            }
            for p in restored
        ]
        if on_update:
            on_update(JobUpdate("cached", 0.0))
        return Job.finished(record, hit, space=self.label)


def _event_id(resp: Any, what: str) -> str:
    """The event id of a submission's answer; anything else is a one-line BadAnswer."""
    try:
        body = resp.json()
    except (ValueError, RecursionError):
        body = None
    event_id = body.get("event_id") if isinstance(body, dict) else None
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        got = "no event id" if event_id is None else f"the event id {str(event_id)[:40]!r}"
        raise BadAnswer(
            f"{what}: the Space answered the call with {got} (a non-empty text of letters, digits "
            "and -_.: was expected); retry, or pick another Space."
        )
    return event_id


def _plain(value: Any) -> Any:
    """Inputs as given, JSON-safe (paths stay paths; FileData keeps only its path)."""

    def visit(v: Any) -> Any:
        if is_filedata(v):
            return {"path": v.get("path"), "orig_name": v.get("orig_name")}
        if isinstance(v, (dict, list, tuple)):
            return KEEP
        return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)

    return transform(value, visit)
