"""A run folder: output files, the upload sandbox, and `manifest.json` written as the run goes.

The manifest is rewritten atomically (temp file + rename) after every change, so a crash or Ctrl-C
at any moment leaves a valid JSON file describing everything done so far."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from spacechain import __version__
from spacechain.agent.record import FORMAT, RunRecord
from spacechain.tools import CallRecord, Cancelled, Client, Job, SpacechainError, UploadRefused
from spacechain.tools.cache import CallCache
from spacechain.tools.files import is_local_file, sha256_file

VERSION = __version__
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class BudgetExceeded(SpacechainError):
    kind = "budget"


_URL = re.compile(r"https?://[^\s<>\"'`]+")


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "run"


def default_run_dir(goal: str, root: Path = Path("spacechain-runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{slugify(goal)}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Run:
    """Everything one `run` (or one `chat` session) owns: client, folder, sandbox, manifest."""

    def __init__(
        self,
        run_dir: Path,
        *,
        goal: str,
        model: str,
        user_files: list[str] | None = None,
        client: Client | None = None,
        token: Any = None,
        cache: CallCache | None = None,
        max_space_calls: int | None = None,
    ):
        self.dir = Path(run_dir).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._savers: list[threading.Thread] = []  # the threads saving the manifest when a job ends
        self._allowed: set[str] = set()
        self.jobs: dict[str, Job] = {}
        self.client = client or Client(token=token, out_dir=self.dir, cache=cache)
        # Origins the model or a Space writes are never trusted; the user's own come in by trust_user_text.
        self.client.trust_named_urls = False
        self.client.upload_guard, self.client.out_dir = self.check_upload, self.dir
        self.client.cache = self.client.cache or cache
        # Every call the client makes lands in the manifest, internal ones included.
        self.client.on_job, self.client.on_failure = self.track, self.record_failure
        self.use_cache = self.client.cache is not None
        self.max_space_calls = max_space_calls
        self.budget_hit = False
        self._reserved = 0  # Space calls allowed by the budget but not yet submitted
        self.manifest: dict[str, Any] = {
            "format": FORMAT,
            "spacechain": VERSION,
            "goal": goal,
            "model": model,
            "run_dir": str(self.dir),
            "status": "running",
            "started_at": _now(),
            "finished_at": None,
            "final_answer": None,
            "user_files": [],
            "turns": [],
            "steps": [],
            "calls": [],
            "files": [],
        }
        self.step = 0
        self.notes: list[str] = []  # lines for the model's next observation (a call that moved Spaces)
        self._closing = False
        self._claim()
        try:
            for f in user_files or []:
                self.allow(f)
            self.save()
        except BaseException:
            (self.dir / "manifest.json").unlink(missing_ok=True)  # a run that never started keeps no claim
            raise

    def _claim(self) -> None:
        """Create manifest.json exclusively: of two runs started into one folder, only one gets it (a
        check then a write would let both through), and a link placed there is never followed."""
        try:
            os.close(os.open(self.dir / "manifest.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644))
        except FileExistsError:
            raise SpacechainError(
                f"{self.dir} already holds a run (manifest.json); choose another --out so that run's record is kept."
            ) from None

    # ---------- sandbox ----------
    def allow(self, path: str) -> str:
        """Let the agent upload a file the user named. Raises UploadRefused when it does not exist."""
        if not is_local_file(path):
            raise UploadRefused(f"File {path[:200]} does not exist; give the path of an existing file.")
        real = str(Path(os.path.expanduser(path)).resolve())
        with self._lock:
            if real not in self._allowed:
                self._allowed.add(real)
                self.manifest["user_files"].append({"path": real, "sha256": sha256_file(real)})
                self.save()
        return real

    def trust_user_text(self, text: str) -> None:
        """Trust the app URLs the user wrote (a goal, a REPL line): those origins may be on a private
        network. Nothing the model or a Space writes goes through here."""
        for url in _URL.findall(text or ""):
            try:
                self.client.trust(url.rstrip(".,;:!?)]}'\""))
            except ValueError:
                continue  # a malformed URL stays untrusted

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self._allowed)

    def check_upload(self, real_path: str) -> None:
        if real_path in self._allowed or self._produced_here(real_path):
            return
        raise UploadRefused(
            f"Refused to upload {real_path}: the agent may only upload files the user named "
            "(--file or /attach) or files produced in this run."
        )

    def _produced_here(self, real_path: str) -> bool:
        """An output a Space returned in this run. Not just any file under the run folder, which may be
        an existing folder such as the user's home; not a URL download either (a URL input is uploaded
        in its own call, and can be given again)."""
        return real_path in {str(Path(f).resolve()) for f in self.produced_files()}

    # ---------- calls ----------
    def space_calls(self) -> int:
        """Calls that reached a Space (cache hits and calls refused before submission don't count)."""
        return sum(1 for _, rec in self._calls() if rec.event_id and not rec.cached)

    @contextmanager
    def budget_slot(self) -> Iterator[None]:
        """Hold one of the --max-space-calls slots while a call is submitted (parallel calls in a
        batch must not all pass the check before any of them is counted)."""
        with self._lock:
            if self.max_space_calls is not None and self.space_calls() + self._reserved >= self.max_space_calls:
                self.budget_hit = True
                raise BudgetExceeded(
                    f"Reached the limit of {self.max_space_calls} Space calls "
                    "(--max-space-calls); no more Space calls in this run."
                )
            self._reserved += 1
        try:
            yield  # the submitted call is in the manifest (and counted) before the slot is given back
        finally:
            with self._lock:
                self._reserved -= 1

    def stats(self) -> dict:
        """Per Space: calls, cache hits, failures, queue and processing seconds."""
        per: dict[str, dict] = {}
        for _, rec in self._calls():
            s = per.setdefault(rec.space, {"calls": 0, "cache_hits": 0, "failures": 0, "queue_s": 0.0, "run_s": 0.0})
            if rec.cached:
                s["cache_hits"] += 1
                continue
            if rec.event_id:
                s["calls"] += 1
            if rec.status == "error":
                s["failures"] += 1
            s["queue_s"] = round(s["queue_s"] + (rec.queue_s or 0.0), 3)
            s["run_s"] = round(s["run_s"] + (rec.run_s or 0.0), 3)
        total = {
            k: round(sum(v[k] for v in per.values()), 3)
            for k in ("calls", "cache_hits", "failures", "queue_s", "run_s")
        }
        return {"total": total, "spaces": per}

    def track(self, job: Job) -> None:
        with self._lock:
            self.jobs[job.event_id] = job
            self._add_call(job.record)
            closing = self._closing
        if closing:
            job.cancel()  # submitted by a worker thread after the run began to close (Ctrl-C)
        saver = threading.Thread(target=self._save_when_done, args=(job,), daemon=True)
        with self._lock:
            self._savers = [t for t in self._savers if t.is_alive()] + [saver]
        saver.start()

    def _add_call(self, record: CallRecord) -> None:
        entry = {"id": len(self.manifest["calls"]) + 1, "step": self.step, "turn": len(self.manifest["turns"])}
        self.manifest["calls"].append((entry, record))
        self.save()

    def record_failure(self, record: CallRecord) -> None:
        """A call that failed before a job existed (bad inputs, refused upload, queue full…)."""
        with self._lock:
            self._add_call(record)

    def _save_when_done(self, job: Job) -> None:
        job.wait()
        self.save()

    def note(self, text: str) -> None:
        with self._lock:
            self.notes = [*self.notes[-9:], text]

    def take_notes(self) -> list[str]:
        with self._lock:
            notes, self.notes = self.notes, []
        return notes

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            if not job.done():
                job.cancel()

    def record_quota(self, when: str) -> dict:
        """Put the token's ZeroGPU quota `when` ("before" or "after") the work in the manifest, and the
        GPU-seconds used once both are known. A quota that cannot be read is noted, never a failure."""
        try:
            entry: dict = self.client.hub.zero_gpu_quota().to_dict()
        except SpacechainError as exc:
            entry = {"error": str(exc)}
        with self._lock:
            quota = self.manifest.setdefault("quota", {})
            quota[when] = entry
            before, after = quota.get("before") or {}, quota.get("after") or {}
            if "remaining_s" in before and "remaining_s" in after:
                quota["used_s"] = round(before["remaining_s"] - after["remaining_s"], 3)
            self.save()
            return dict(quota)

    # ---------- steps and turns ----------
    def begin_turn(self, goal: str) -> None:
        with self._lock:
            self.manifest["turns"].append(
                {"goal": goal, "started_at": _now(), "status": "running", "final_answer": None}
            )
            self.manifest["status"] = "running"
            self.save()

    def end_turn(self, status: str, final_answer: Any = None) -> None:
        with self._lock:
            turn = self.manifest["turns"][-1] if self.manifest["turns"] else {}
            turn.update(status=status, final_answer=_jsonable(final_answer), finished_at=_now())
            self.manifest.update(status=status, final_answer=_jsonable(final_answer), finished_at=_now())
            self.save()

    def add_step(self, entry: dict) -> None:
        with self._lock:
            self.manifest["steps"].append(entry)
            self.save()

    # ---------- output ----------
    def produced_files(self) -> list[str]:
        files: list[str] = []
        for _, rec in self._calls():
            for f in rec.files:
                if f.get("direction") == "out" and f["local"] not in files and os.path.exists(f["local"]):
                    files.append(f["local"])
        return files

    def keep_results(self) -> None:
        """Copy the run's results into results/ under readable names and list them in the manifest."""
        from .results import write_results

        with self._lock:
            self.manifest["results"] = write_results(self.dir, self.snapshot())
            self.save()

    def _calls(self) -> list[tuple[dict, CallRecord]]:
        return list(self.manifest["calls"])

    def snapshot(self) -> dict:
        with self._lock:
            data = dict(self.manifest)
            data["calls"] = [{**entry, **rec.to_dict()} for entry, rec in self._calls()]
            data["files"] = self.produced_files()
            data["stats"] = self.stats()
        return data

    def record(self) -> RunRecord:
        """The run so far as the typed record (what manifest.json holds)."""
        return RunRecord.from_dict(self.snapshot())

    def save(self) -> None:
        with self._lock:
            write_file(self.dir / "manifest.json", dumps(self.snapshot()).encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self.cancel_all()
        deadline = time.monotonic() + 5
        for job in list(self.jobs.values()):
            job.wait(max(0.0, deadline - time.monotonic()))
        self.cancel_all()  # jobs tracked while waiting
        with self._lock:
            savers = list(self._savers)
        for saver in savers:  # a save of a job's end still writing: no temp file outlives the close
            saver.join(max(0.0, deadline - time.monotonic()))
        self._settle_unfinished()
        if "quota" in self.manifest and "after" not in self.manifest["quota"]:
            self.record_quota("after")  # saves
        self.save()
        self.client.close()

    def _settle_unfinished(self) -> None:
        """A call still running when the run closes was cancelled by the close: it ends as a cancelled
        call (status error, error "cancelled", like a job that stopped in time), never as `submitted`."""
        with self._lock:
            for _, rec in self._calls():
                if rec.status == "submitted":
                    rec.status = "error"
                    rec.error = Cancelled(f"{rec.space}: the call was cancelled when the run ended.").to_dict()
                    rec.finished_at = rec.finished_at or _now()


def write_file(path: Path, data: bytes) -> Path:
    """Write `path` whole or not at all: a fresh temp file (O_EXCL, so never through a link planted
    under its name) in the same folder, then a rename over `path` (which replaces a link there rather
    than following it). The temp file never outlives a failure."""
    return _replace(path, lambda fh: fh.write(data))


def copy_file(src: Path, path: Path) -> Path:
    """Copy `src` to `path` the way write_file writes: whole or not at all, never through a link."""
    with open(src, "rb") as source:
        return _replace(path, lambda fh: shutil.copyfileobj(source, fh))


def _replace(path: Path, fill: Callable[[BinaryIO], Any]) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def clean_text(text: str) -> str:
    """Text that encodes as UTF-8: bytes that were not UTF-8 (command-line arguments and file names
    arrive as surrogate escapes) and lone surrogates (a Space's JSON may hold them) become U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _clean(value: Any) -> Any:
    """NaN and infinities (common in Dataframe outputs) as null: strict JSON has no such numbers;
    strings and keys as valid UTF-8."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Strict JSON for manifests and --json output, whatever text it holds."""
    return json.dumps(
        _clean(value), indent=2, ensure_ascii=False, default=lambda v: clean_text(str(v)), allow_nan=False
    )


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)
