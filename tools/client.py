"""`Client`: drive any Gradio Space from its Hub contract. The public surface of `tools`."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .cache import CallCache, call_key
from .contract import Contract, contract_from_host
from .errors import (
    RUNNING_STAGES,
    WAKING_STAGES,
    BadAnswer,
    InvalidInputs,
    NotGradioSpace,
    SessionBusy,
    SpacechainError,
    space_not_running,
)
from .files import KEEP, FileIO, is_filedata, sha256_file, transform
from .http import CallScope, Http, Limits, RetryPolicy, call_scope, find_token
from .hub import Hub, SearchHit, SpaceStatus
from .job import CallRecord, Job, JobUpdate, _now_iso, with_gpu_retry
from .kinds import sniff
from .refs import parse_ref
from .schema import ApiSchema, Endpoint
from .space import AppConfig, Session, Space
from .statebook import StateBook

__all__ = ["Client", "Session", "Space"]

WAKE_POLL_S = 3.0  # how often the Hub is asked whether a waking Space runs yet


class Client:
    """Resolves Space references, caches contracts and schemas, and runs calls.

    Args (all keyword): token (None: huggingface_hub's usual sources; False: none), out_dir (output
    files), retry (RetryPolicy), idle_timeout (seconds without even a heartbeat), upload_guard (raises
    UploadRefused for local files the caller may not send), hub (default HF_ENDPOINT), cache (CallCache),
    wake_timeout (seconds to wait for a sleeping Space), transport (httpx), trust_named_urls (a URL
    named in a call is the user's: its origin may be on a private network), max_file_bytes /
    max_call_bytes / max_files (download caps).

    Thread-safe: calls on different sessions run in parallel; calls on one session are serialised."""

    def __init__(
        self,
        *,
        token: str | None | bool = None,
        out_dir: str | Path = "spacechain-outputs",
        retry: RetryPolicy | None = None,
        idle_timeout: float = 120.0,
        upload_guard: Callable[[str], None] | None = None,
        hub: str | None = None,
        cache: CallCache | None = None,
        wake_timeout: float = 0.0,
        transport=None,
        trust_named_urls: bool = True,
        max_file_bytes: int | None = None,
        max_call_bytes: int | None = None,
        max_files: int | None = None,
    ):
        if token is None:
            token = find_token()
        # Download caps per file and per call: these arguments, else SPACECHAIN_MAX_* , else defaults.
        limits = Limits.from_env(max_file_bytes=max_file_bytes, max_call_bytes=max_call_bytes, max_files=max_files)
        self.http = Http(
            token if isinstance(token, str) and token else None,
            hub=hub,
            retry=retry,
            transport=transport,
            limits=limits,
        )
        self.hub = Hub(self.http)
        self.out_dir = Path(out_dir)
        self.idle_timeout = idle_timeout
        self.upload_guard = upload_guard
        self.cache = cache
        self.wake_timeout = wake_timeout  # seconds to wait for a sleeping or starting Space
        # A library caller naming an app URL is the user naming it. An agent's client sets this off:
        # a URL the model (or a Space) wrote must not become a trusted origin; `trust()` adds the user's.
        self.trust_named_urls = trust_named_urls
        self.session_wait = 600.0  # seconds a call waits for its session when no timeout is given
        # Observers (a run folder): every job started, including internal ones, and every failed call.
        self.on_job: Callable[[Job], None] | None = None
        self.on_failure: Callable[[CallRecord], None] | None = None
        self._spaces: dict[str, Space] = {}
        self._resolve_lock = threading.Lock()
        self._suspect: dict[str, str] = {}  # outputs whose bytes contradict their component → why
        self._identities: dict[str, str] = {}  # URL-addressed Space → hash of its app (cache keys)
        self.records: list[CallRecord] = []

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def trust(self, url: str) -> None:
        """Trust an origin the user named (its files may be fetched even on a private network)."""
        self.http.policy.know(url)

    # ---------- discovery ----------
    def search(self, query: str, limit: int = 8, include_non_running: bool = False) -> list[SearchHit]:
        return self.hub.search(query, limit=limit, include_non_running=include_non_running)

    def space(self, ref: str) -> Space:
        # Keyed by the parsed reference: `owner/name` and its Hub page URL share one Space and sessions.
        key = parse_ref(ref).label
        with self._resolve_lock:
            if key not in self._spaces:
                self._spaces[key] = self._resolve(ref)
            return self._spaces[key]

    def contract(self, ref: str) -> Contract:
        return self.space(ref).contract

    def schema(self, ref: str) -> ApiSchema:
        sp = self.space(ref)
        if sp._schema is None:
            resp = self.http.request(
                "GET",
                sp.contract.schema_url,
                what=f"Reading the API of {sp.label}",
                ok=lambda r: r.is_success or r.status_code == 404,
            )
            if resp.status_code == 404 and sp.contract.source != "agents.md":
                # gradio 4.x serves its API without the /gradio_api prefix.
                root = contract_from_host(sp.contract.space, sp.contract.host, api="")
                legacy = replace(
                    sp.contract,
                    schema_url=root.schema_url,
                    poll_url=root.poll_url,
                    call_url=root.call_url,
                    upload_url=root.upload_url,
                )
                resp = self.http.request(
                    "GET",
                    legacy.schema_url,
                    what=f"Reading the API of {sp.label}",
                    ok=lambda r: r.is_success or r.status_code == 404,
                )
                if resp.is_success:
                    sp.contract = legacy
            if resp.status_code == 404:
                raise NotGradioSpace(
                    f"{sp.label} serves no Gradio API at {sp.contract.schema_url}; "
                    "is it a Gradio app (gradio 4.20 or newer)?"
                )
            try:
                info = resp.json()
            except (ValueError, RecursionError):
                raise BadAnswer(
                    f"{sp.label} did not return a Gradio API schema at {sp.contract.schema_url}; is it a Gradio app?"
                ) from None
            try:
                sp._schema = ApiSchema.from_info(info)
            except BadAnswer as exc:
                raise BadAnswer(f"{sp.label}: {exc} (from {sp.contract.schema_url}); is it a Gradio app?") from None
        return sp._schema

    def endpoint(self, ref: str, name: str) -> Endpoint:
        return self.schema(ref).endpoint(name, self.space(ref).label)

    def _resolve(self, ref: str) -> Space:
        parsed = parse_ref(ref)
        if parsed.base_url:
            if self.trust_named_urls:
                self.trust(parsed.base_url)  # the user named it: its own files may be fetched
            return Space(parsed.base_url, contract_from_host(parsed.base_url, parsed.base_url))
        space_id = parsed.space_id
        assert space_id
        status = self.hub.status(space_id)
        contract = self.hub.agents_md(space_id) if status.sdk in (None, "gradio") else None
        if contract is None:
            contract = self.hub.contract_from_status(status)  # raises NotGradioSpace for other SDKs
        if status.stage and status.stage not in RUNNING_STAGES:
            if status.stage in WAKING_STAGES:
                status = self._wake(space_id, contract.host, status)
            if status.stage not in RUNNING_STAGES:
                raise space_not_running(space_id, status.stage or "?")
        return Space(space_id, contract, status)

    def _wake(self, space_id: str, host: str, status: SpaceStatus) -> SpaceStatus:
        """Send a request that starts a sleeping Space, then wait up to `wake_timeout` for it to run."""
        deadline = time.monotonic() + self.wake_timeout
        while True:
            try:
                with self.http.client.stream("GET", f"{host}/config", timeout=5.0):
                    pass  # the request wakes it; the answer does not matter, so none of it is read
            except Exception:
                pass
            if status.stage in RUNNING_STAGES or status.stage not in WAKING_STAGES:
                return status
            if time.monotonic() + WAKE_POLL_S > deadline:
                return status
            time.sleep(WAKE_POLL_S)
            status = self.hub.status(space_id)

    # ---------- files ----------
    def _files(self, sp: Space, out_dir: Path | None = None) -> FileIO:
        io = FileIO(self.http, sp.api_root, Path(out_dir or self.out_dir), guard=self.upload_guard)
        io._uploaded, io._server_paths = sp.uploaded, sp.server_paths  # shared per Space
        io.suspect = self._suspect  # shared by every Space: a flagged output goes to none of them
        return io

    def upload(self, ref: str, path: str) -> dict:
        """Upload a local file (or URL) to a Space; returns the FileData to pass as an input."""
        return self._files(self.space(ref)).to_filedata(path)

    # ---------- calls ----------
    def submit(
        self,
        ref: str,
        endpoint: str,
        inputs: dict | list | None = None,
        *,
        session: str | None = None,
        timeout: float | None = None,
        on_update: Callable[[JobUpdate], None] | None = None,
        out_dir: str | Path | None = None,
        use_cache: bool = True,
    ) -> Job:
        """Validate, upload file inputs, submit, and start reading the result stream; returns at once.

        Args:
            ref: `owner/name`, a Space URL, or a Gradio app URL.
            endpoint: the endpoint name, with or without the leading slash.
            inputs: by name (dict) or position (list); files as local paths, URLs or {"path": ...}.
                Every value is checked against the schema before anything is sent.
            session: a session name: calls with the same name share the Space's gr.State.
            timeout: bounds the wait for a busy session and the whole job, downloads included (the
                job is cancelled when it passes); None waits as long as the Space sends heartbeats.
            on_update: called with a JobUpdate as the job waits, runs, streams and downloads.
            out_dir: where output files go (default: the client's out_dir).
            use_cache: with a cache, a stored identical call returns at once.

        A failure raises with the failed CallRecord as `.record`."""
        sp = self.space(ref)
        ep = self.schema(ref).endpoint(endpoint, sp.label)
        sess = sp.session(session)
        files = self._files(sp, Path(out_dir) if out_dir else None)
        record = CallRecord(
            space=sp.label,
            endpoint=ep.name,
            session=sess.name,
            inputs=_plain(inputs),
            host=sp.contract.host,
            submitted_at=_now_iso(),
        )
        try:
            job = self._submit(ref, sp, ep, sess, record, files, inputs, timeout, on_update, use_cache)
        except SpacechainError as exc:
            record.status, record.error = "error", exc.to_dict()
            record.files = [vars(f) for f in files.records]
            self.records.append(record)
            exc.record = record
            if self.on_failure:
                self.on_failure(record)
            raise
        if self.on_job:
            self.on_job(job)
        return job

    def _submit(
        self,
        ref: str,
        sp: Space,
        ep: Endpoint,
        sess: Session,
        record: CallRecord,
        files: FileIO,
        inputs: Any,
        timeout: float | None,
        on_update: Callable[[JobUpdate], None] | None,
        use_cache: bool,
    ) -> Job:
        # validate and normalise → cache key and lookup → upload → submit → stream and localise
        given = ep.given(inputs)
        values = self._validated(sp, ep, inputs)
        files.check_local(list(ep.params), given)  # the sandbox holds for cache hits too
        book = self._book(sp, ep, sess, values, use_cache)
        hit = book.lookup(files.out_dir)
        if hit is not None:
            return self._from_cache(sp, ep, inputs, record, book, *hit, on_update)
        pending = book.pending_writer()
        if pending is not None:
            self.submit(
                ref, *pending, session=sess.name, timeout=timeout, out_dir=files.out_dir, use_cache=False
            ).result()
        scope = CallScope(timeout)  # a file URL among the inputs is fetched within the call's time
        with call_scope(scope):
            data = [
                files.shape_input(p, v) if p.takes_files and p.name in given and v is not None else v
                for p, v in zip(ep.params, values)
            ]
        event_id = self._post(sp, ep, sess, data, timeout)
        sess.busy = record.event_id = event_id
        self.records.append(record)
        book.submitted()
        poll = sp.contract.poll_url.replace("{endpoint}", ep.api_name).replace("{event_id}", event_id)

        def localise(outputs: list) -> list:
            if len(outputs) != len(ep.returns):
                # gradio sends a null for each gr.State output although /info lists none: drop them
                # so outputs line up with the schema.
                mask = (self._state_slots(sp, ep.api_name) or ([], []))[1]
                if len(mask) == len(outputs):
                    outputs = [v for v, hidden in zip(outputs, mask) if not hidden]
            files.out_dir.mkdir(parents=True, exist_ok=True)
            result = files.localise(outputs, ep.api_name, ep.returns)
            record.files = [vars(f) for f in files.records]
            downloaded = {f.local for f in files.records if f.direction == "out"}
            book.finished(sp.label, ep.name, result, downloaded, flagged=any(f.problem for f in files.records))
            return result

        def release() -> None:
            sess.busy = None
            sess.lock.release()

        try:
            return Job(
                http=self.http,
                space=sp.label,
                poll_url=poll,
                queue_status_url=f"{sp.api_root}/queue/status",
                record=record,
                localise=localise,
                release=release,
                on_update=on_update,
                timeout=timeout,
                idle_timeout=self.idle_timeout,
            )
        except BaseException:
            release()  # no reader thread was started, so nothing else will free the session
            raise

    def _validated(self, sp: Space, ep: Endpoint, inputs: Any) -> list:
        """The inputs as the positional list the endpoint takes: names mapped, defaults filled, every
        value checked against its parameter, and the whole of it sendable as JSON."""
        values = ep.to_positional(inputs, custom_ok=self._custom_values(sp, ep))
        try:
            json.dumps(values, allow_nan=False, default=str, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputs(
                f"{ep.name}: an input holds text that is not valid Unicode (bytes that are not "
                "UTF-8, or a lone surrogate); pass it as UTF-8 text."
            ) from None
        except ValueError:
            raise InvalidInputs(f"{ep.name}: an input is NaN or infinite, which a Gradio API cannot receive.") from None
        return values

    def _custom_values(self, sp: Space, ep: Endpoint) -> frozenset[str]:
        """Dropdowns that take values outside their choices, from /config: read only for endpoints that
        have a dropdown with choices."""
        if not any(p.component == "Dropdown" and p.choices for p in ep.params):
            return frozenset()
        return self._config(sp).custom_values(ep)

    def _post(self, sp: Space, ep: Endpoint, sess: Session, data: list, timeout: float | None) -> str:
        """Submit with the session held (one call at a time per session); the event id, or the lock freed."""
        wait = self.session_wait if timeout is None else timeout
        if not sess.lock.acquire(timeout=wait):
            raise SessionBusy(
                f"{sp.label}: session '{sess.name}' is still busy with event {sess.busy} after "
                f"{wait:g} s; wait for that call to finish, or use another session name."
            )
        try:
            resp = self.http.request(
                "POST",
                f"{sp.api_root}/call/{ep.api_name}",
                what=f"Calling {sp.label}{ep.name}",
                json={"data": data, "session_hash": sess.hash},
                # Only "not accepted" answers are retried: a second submission of an accepted job
                # would run it twice.
                retry_on=(429, 503),
                resend_after_connect=True,
            )
            return _event_id(resp, f"{sp.label}{ep.name}")
        except BaseException:
            sess.lock.release()
            raise

    def _book(self, sp: Space, ep: Endpoint, sess: Session, values: list, use_cache: bool) -> StateBook:
        """This call's cache key and State roles. State slots matter whenever there is a cache, even for a
        call that skips it: a call that rewrites the State must unsettle what cached readers would match.
        Only file parameters' values are read as files. Without a Hub revision (a Space given by URL) the
        key holds the app's identity, so another app served later at that URL never gets these outputs."""
        slots = self._state_slots(sp, ep.api_name) if self.cache is not None else None
        reads, writes = (any(slots[0]), any(slots[1])) if slots else (False, False)
        if not (use_cache and slots is not None and self.cache is not None):
            return StateBook(sess, None, None, reads, writes)  # unknown slots: never cached
        revision = (sp.status.sha if sp.status else None) or self._app_identity(sp)
        key = call_key(
            sp.label, revision, ep.name, values, sess.state_key if reads else None, [p.takes_files for p in ep.params]
        )
        return StateBook(sess, self.cache, key, reads, writes)

    def _app_identity(self, sp: Space) -> str:
        if sp.label not in self._identities:
            self._identities[sp.label] = self._config(sp).identity(sp._schema)
        return self._identities[sp.label]

    def _from_cache(
        self,
        sp: Space,
        ep: Endpoint,
        inputs: Any,
        record: CallRecord,
        book: StateBook,
        hit: list,
        restored: list[str],
        on_update: Callable[[JobUpdate], None] | None,
    ) -> Job:
        book.served_from_cache(ep.name, inputs)
        record.status, record.outputs, record.cached = "complete", hit, True
        assert book.key is not None  # a hit has a key
        record.event_id = f"cached-{book.key[:16]}"
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
        self.records.append(record)
        if on_update:
            on_update(JobUpdate("cached", 0.0))
        return Job.finished(record, hit, space=sp.label)

    def _config(self, sp: Space) -> AppConfig:
        if sp.config is None:
            try:
                raw = self.http.request("GET", f"{sp.contract.host}/config", what=f"Reading {sp.label} config").json()
            except (SpacechainError, ValueError, RecursionError):
                raw = None  # older or proxied apps: work without it
            sp.config = AppConfig(raw)
        return sp.config

    def _state_slots(self, sp: Space, api_name: str) -> tuple[list[bool], list[bool]] | None:
        return self._config(sp).state_slots(api_name)

    def call(
        self,
        ref: str,
        endpoint: str,
        inputs: dict | list | None = None,
        *,
        session: str | None = None,
        timeout: float | None = 600.0,
        on_update: Callable[[JobUpdate], None] | None = None,
        out_dir: str | Path | None = None,
        use_cache: bool = True,
    ) -> list:
        """Submit and wait for the outputs (files as local paths).

        Args:
            ref: `owner/name`, a Space URL, or a Gradio app URL.
            endpoint: the endpoint name, with or without the leading slash.
            inputs: by name (dict) or position (list); files as local paths, URLs or {"path": ...}.
            session: a session name: calls with the same name share the Space's gr.State.
            timeout: seconds before the job is cancelled (None: as long as the Space sends heartbeats).
            on_update: called with a JobUpdate as the job waits, runs, streams and downloads.
            out_dir: where output files go (default: the client's out_dir).
            use_cache: answer from the call cache when this exact call was made before.

        When ZeroGPU has no GPU free, the call is submitted again after a short wait (twice at most)."""
        return with_gpu_retry(
            lambda: self.submit(
                ref,
                endpoint,
                inputs,
                session=session,
                timeout=timeout,
                on_update=on_update,
                out_dir=out_dir,
                use_cache=use_cache,
            ).result()
        )


_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


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
