"""The run record: what `manifest.json` holds, as dataclasses with load and dump.

The JSON stays readable and versioned (`format`); manifests written before the field existed load as
format 1. Loading is tolerant of what it does not know (fields added later, a hand-edited file) and strict
about what it reads: a value of the wrong shape is a one-line error, never a traceback further on.

`RunRecord.producer(path)` is the one answer to "which call produced this file, from which inputs"; replay,
export, the gallery and the REPL's /files all ask it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from spacechain.tools import SpacechainError
from spacechain.tools.job import CallFacts

__all__ = ["FORMAT", "CallEntry", "FileEntry", "ResultEntry", "RunRecord", "StepEntry", "TurnEntry", "UserFile"]

FORMAT = 2


class RecordError(SpacechainError):
    kind = "bad_manifest"


def _build(cls: type, data: Any, where: str) -> Any:
    """A dataclass from a dict: known keys only, each checked against the type its default has."""
    if not isinstance(data, dict):
        raise RecordError(f"{where} is not a JSON object")
    known = {f.name: f for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    for name in ("space", "endpoint", "local", "path", "goal"):
        if name in kwargs and name in known and not isinstance(kwargs[name], str):
            raise RecordError(f"{where}: '{name}' is not text")
    try:
        return cls(**kwargs)
    except TypeError:
        missing = [f.name for f in fields(cls) if f.name not in kwargs and f.default is f.default_factory]
        raise RecordError(f"{where} has no {', '.join(missing) or 'required field'}") from None


@dataclass
class FileEntry:
    local: str
    sha256: str = ""
    remote: str = ""
    size: int = 0
    direction: str = "in"
    cached: bool = False
    kind: str | None = None
    problem: str | None = None


@dataclass
class CallEntry(CallFacts):
    """A call as the manifest keeps it: the client's record of it, numbered, placed in its turn and step."""

    id: int = 0
    turn: int = 0
    step: int = 0
    files: list[FileEntry] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, n: int) -> CallEntry:
        call = _build(cls, data, f"call {n}")
        if not isinstance(call.files, list):
            raise RecordError(f"call {n}: 'files' is not a list")
        call.files = [_build(FileEntry, f, f"call {n} file {i}") for i, f in enumerate(call.files, start=1)]
        if call.session is not None and not isinstance(call.session, str):
            raise RecordError(f"call {n} has a session that is not text")
        call.session = call.session or "default"
        if call.complete and not call.space:
            raise RecordError(f"call {n} has no Space or endpoint name")
        return call

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def outputs_made(self) -> list[str]:
        """The files this call downloaded (its own outputs, not its uploads)."""
        return [f.local for f in self.files if f.direction == "out"]


@dataclass
class StepEntry:
    turn: int = 0
    step: int = 0
    thought: str | None = None  # the reply's text before its code
    code: str | None = None
    observations: str | None = None
    error: str | None = None
    final: bool = False
    duration_s: float | None = None
    tokens: dict | None = None
    finished_at: str | None = None


@dataclass
class TurnEntry:
    goal: str = ""
    started_at: str = ""
    status: str = "running"
    final_answer: Any = None
    finished_at: str | None = None


@dataclass
class UserFile:
    path: str
    sha256: str = ""


@dataclass
class ResultEntry:
    """A result's readable copy in the run folder (agent/results.py): `path` is relative to the run folder."""

    name: str
    path: str = ""
    file: str = ""
    title: str = ""
    sha256: str = ""


@dataclass
class RunRecord:
    goal: str = ""
    model: str = ""
    format: int = FORMAT
    spacechain: str = ""
    run_dir: str = ""
    status: str = "running"
    started_at: str = ""
    finished_at: str | None = None
    final_answer: Any = None
    user_files: list[UserFile] = field(default_factory=list)
    turns: list[TurnEntry] = field(default_factory=list)
    steps: list[StepEntry] = field(default_factory=list)
    calls: list[CallEntry] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    quota: dict | None = None
    results: list[ResultEntry] = field(default_factory=list)

    # ---------- load and dump ----------
    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        if not isinstance(data, dict):
            raise RecordError("the manifest is not a JSON object")
        rec = _build(cls, {**data, "format": data.get("format", 1)}, "the manifest")
        for name, item in (
            ("user_files", UserFile),
            ("turns", TurnEntry),
            ("steps", StepEntry),
            ("results", ResultEntry),
        ):
            items = getattr(rec, name)
            if not isinstance(items, list):
                raise RecordError(f"'{name}' is not a list")
            setattr(rec, name, [_build(item, x, f"{name} {i}") for i, x in enumerate(items, start=1)])
        if not isinstance(rec.calls, list):
            raise RecordError("'calls' is not a list")
        rec.calls = [CallEntry.from_dict(c, n) for n, c in enumerate(rec.calls, start=1)]
        rec.files = [f for f in rec.files if isinstance(f, str)] if isinstance(rec.files, list) else []
        return rec

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> RunRecord:
        """The record in `run_dir`/manifest.json; a one-line error for a missing or malformed one."""
        path = Path(run_dir) / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RecordError(f"{run_dir} has no manifest.json; give a run folder made by `spacechain run`.") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise RecordError(f"{path} is not a readable manifest ({exc.__class__.__name__}).") from None
        try:
            return cls.from_dict(data)
        except (RecordError, TypeError) as exc:
            raise RecordError(f"{path} is not a manifest written by spacechain: {exc}.") from None

    def to_dict(self) -> dict:
        return asdict(self)

    # ---------- questions ----------
    def producer(self, path: str) -> CallEntry | None:
        """The completed call that downloaded `path` (an output file), with its inputs; None for a
        file no call produced (the user's own, or one from outside the run)."""
        target = self._norm(path)
        for call in self.calls:
            if call.complete and any(self._norm(p) == target for p in call.outputs_made()):
                return call
        return None

    def lineage(self, path: str) -> list[CallEntry]:
        """The calls that led to `path`, first one first: its producer and, through each input that is
        an earlier output, theirs."""
        chain: list[CallEntry] = []
        todo = [path]
        while todo:
            call = self.producer(todo.pop())
            if call is None or call in chain:
                continue
            chain.append(call)
            todo += [v for v in _strings(call.inputs) if self.producer(v) is not None]
        return sorted(chain, key=self.calls.index)

    def produced(self) -> list[str]:
        return list(dict.fromkeys(p for c in self.calls if c.complete for p in c.outputs_made()))

    def _norm(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.run_dir, path)) if self.run_dir else os.path.normpath(path)


def _strings(value: Any) -> list[str]:
    from spacechain.tools.nested import leaves

    return [leaf for _, leaf in leaves(value) if isinstance(leaf, str)]
