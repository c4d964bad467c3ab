"""`Client`: drive any Gradio Space from its Hub contract. The public surface of `tools`."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .cache import CallCache, call_key
from .call import Call
from .contract import Contract, contract_from_host
from .errors import (
    RUNNING_STAGES,
    WAKING_STAGES,
    InvalidInputs,
    SpacechainError,
    space_not_running,
)
from .files import FileIO
from .health import Health, Ledger
from .http import Http, Limits, RetryPolicy, find_token
from .hub import Hub, SearchHit, SpaceStatus
from .job import CallRecord, Job, JobUpdate
from .refs import parse_ref
from .schema import ApiSchema, Endpoint
from .space import Session, Space
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
    max_call_bytes / max_files (download caps), health (the health ledger every call's outcome goes to;
    default `$HF_HOME/spacechain/health.sqlite`, False: none).

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
        health: Ledger | None | bool = None,
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
        self.records: list[CallRecord] = []
        self.health: Ledger | None = Ledger() if health is None or health is True else (health or None)
        self._pool = None

    @property
    def pool(self):
        """Equivalent Spaces and the fallback policy over this client (tools.pool.Pool), made on first use."""
        from .pool import Pool

        with self._resolve_lock:
            if self._pool is None:
                self._pool = Pool(self)
            return self._pool

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
        """The Hub's hits, each with this machine's health record; a Space whose recent calls mostly failed
        goes after the others of its group (running or not), which keep the Hub's order."""
        hits = self.hub.search(query, limit=limit, include_non_running=include_non_running)
        if self.health is None:
            return hits
        known = self.health.healths([h.id for h in hits])
        hits = [replace(h, health=known.get(h.id, Health()).to_dict()) for h in hits]
        hits.sort(
            key=lambda h: (
                not (h.stage or "RUNNING").startswith("RUNNING"),
                (h.health or {}).get("recent_failure_rate", 0) >= 0.5,
            )
        )
        return hits

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
        return self.space(ref).schema(self.http)

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
        return FileIO(
            self.http,
            sp.api_root,
            Path(out_dir or self.out_dir),
            guard=self.upload_guard,
            uploaded=sp.uploaded,  # shared per Space
            server_paths=sp.server_paths,
            suspect=self._suspect,  # shared by every Space: a flagged output goes to none of them
            space=sp.label,
        )

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
        moved: dict | None = None,
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
            moved: set by the fallback layer (tools.pool) when this call runs in place of another Space's.

        A failure raises with the failed CallRecord as `.record`."""
        label = parse_ref(ref).label
        try:
            sp = self.space(ref)
            ep = self.schema(ref).endpoint(endpoint, sp.label)
        except SpacechainError as exc:  # not running, gone: the ledger keeps it as the Space's failure
            self._note(label, "/" + str(endpoint).strip().lstrip("/"), exc.kind, str(exc))
            raise
        files = self._files(sp, Path(out_dir) if out_dir else None)
        call = Call.open(self.http, sp, ep, sp.session(session), files, inputs)
        call.record.moved = moved
        try:
            job = self._submit(ref, call, inputs, timeout, on_update, use_cache)
        except SpacechainError as exc:
            record = call.record
            record.status, record.error = "error", exc.to_dict()
            record.files = [vars(f) for f in files.records]
            self.records.append(record)
            exc.record = record
            self._finished(record)
            if self.on_failure:
                self.on_failure(record)
            raise
        if self.on_job:
            self.on_job(job)
        return job

    def _submit(
        self,
        ref: str,
        call: Call,
        inputs: Any,
        timeout: float | None,
        on_update: Callable[[JobUpdate], None] | None,
        use_cache: bool,
    ) -> Job:
        # validate and normalise → cache key and lookup → upload → submit → stream and localise
        sp, ep, files = call.space, call.endpoint, call.files
        given = ep.given(inputs)
        values = self._validated(sp, ep, inputs)
        files.check_local(list(ep.params), given)  # the sandbox holds for cache hits too
        call.book = book = self._book(sp, ep, call.session, values, use_cache)
        hit = book.lookup(files.out_dir)
        if hit is not None:
            job = call.from_cache(inputs, *hit, on_update)
            self.records.append(call.record)
            return job
        pending = book.pending_writer()
        if pending is not None:
            self.submit(
                ref, *pending, session=call.session.name, timeout=timeout, out_dir=files.out_dir, use_cache=False
            ).result()
        call.post(call.upload(values, given, timeout), self.session_wait if timeout is None else timeout)
        try:
            job = Job(
                call, on_update=on_update, timeout=timeout, idle_timeout=self.idle_timeout, on_done=self._finished
            )
        except BaseException:
            call.release()  # no reader thread was started, so nothing else will free the session
            raise
        self.records.append(call.record)
        return job

    def _finished(self, record: CallRecord) -> None:
        error = record.error or {}
        outcome = "ok" if record.status == "complete" else str(error.get("error") or "error")
        self._note(record.space, record.endpoint, outcome, error.get("message"), record.queue_s, record.run_s)

    def _note(self, space: str, endpoint: str, outcome: str, message=None, queue_s=None, run_s=None) -> None:
        if self.health is not None:
            self.health.record(space, endpoint, outcome, message, queue_s, run_s)

    def _validated(self, sp: Space, ep: Endpoint, inputs: Any) -> list:
        """The inputs as the positional list the endpoint takes: names mapped, defaults filled, every
        value checked against its parameter, and the whole of it sendable as JSON."""
        values = ep.to_positional(inputs, custom_ok=self._custom_values(sp, ep), flagged=self._suspect)
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
        return sp.app_config(self.http).custom_values(ep)

    def _book(self, sp: Space, ep: Endpoint, sess: Session, values: list, use_cache: bool) -> StateBook:
        """This call's cache key and State roles. State slots matter whenever there is a cache, even for a
        call that skips it: a call that rewrites the State must unsettle what cached readers would match.
        Only file parameters' values are read as files. Without a Hub revision (a Space given by URL) the
        key holds the app's identity, so another app served later at that URL never gets these outputs."""
        slots = sp.app_config(self.http).state_slots(ep.api_name) if self.cache is not None else None
        reads, writes = (any(slots[0]), any(slots[1])) if slots else (False, False)
        if not (use_cache and slots is not None and self.cache is not None):
            return StateBook(sess, None, None, reads, writes)  # unknown slots: never cached
        key = call_key(
            sp.label,
            sp.identity(self.http),
            ep.name,
            values,
            sess.state_key if reads else None,
            [p.takes_files for p in ep.params],
        )
        return StateBook(sess, self.cache, key, reads, writes)

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
        fallback: bool = False,
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
            fallback: when the Space cannot run the call (not running, gone, queue full, no GPU after the
                retries, no ZeroGPU quota), run it on its best equivalent Space (`tools.pool`); the
                record's `moved` says so.

        When ZeroGPU has no GPU free, the job submits itself again after a short wait (as every submitted
        job does; see `Job`)."""

        def attempt(target: str, moved: dict | None) -> list:
            return self.submit(
                target,
                endpoint,
                inputs,
                session=session,
                timeout=timeout,
                on_update=on_update,
                out_dir=out_dir,
                use_cache=use_cache,
                moved=moved,
            ).result()

        return self.pool.run(ref, endpoint, session, attempt) if fallback else attempt(ref, None)
