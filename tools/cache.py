"""A content-addressed cache of completed calls, on disk.

Key: Space (and its revision when the Hub gives one, else the app's own identity), endpoint, the
positional inputs with the values of file parameters replaced by their files' sha256, and — for
endpoints that read a `gr.State` — the key of the call that last wrote the session's state, so a
stateful export is never served for another item's model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import holds, is_local_file, place, sha256_file
from .nested import KEEP, is_filedata, is_url, transform, transform_at

__all__ = ["CallCache", "Entry", "call_key", "default_cache_dir", "normalise"]


def default_cache_dir() -> Path:
    """huggingface_hub's conventions: $HF_HOME (default $XDG_CACHE_HOME/huggingface) / spacechain."""
    if os.environ.get("SPACECHAIN_CACHE"):
        return Path(os.environ["SPACECHAIN_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "spacechain" / "calls"


ENTRY_VERSION = 2  # entries store outputs and their files apart; older entries are misses


def normalise(value: Any) -> Any:
    """A file parameter's value with every local file replaced by its content hash (paths differ
    between runs). Key order does not matter: call_key serialises with sorted keys."""

    def visit(v: Any) -> Any:
        if is_filedata(v):
            v = v.get("path", "")
            return {"sha256": sha256_file(v)} if is_local_file(v) else {"file": v}
        if isinstance(v, str) and not is_url(v) and is_local_file(v):
            return {"sha256": sha256_file(v)}
        return KEEP

    return transform(value, visit)


def call_key(
    space: str, revision: str | None, endpoint: str, data: list, state_key: str | None, file_params: list[bool]
) -> str:
    """`data` is the endpoint's positional inputs; `file_params` says which of them are file
    parameters. Only those are read as files: a text input naming a local file is just text."""
    inputs = [normalise(v) if is_file else v for v, is_file in zip(data, file_params)]
    blob = json.dumps(
        {
            "cache": ENTRY_VERSION,
            "space": space,
            "revision": revision,
            "endpoint": endpoint,
            "inputs": inputs,
            "state": state_key,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and os.path.basename(name) == name
        and "\\" not in name
        and "\0" not in name
    )


def _set_at(value: Any, at: Any, new: str) -> None:
    """Put `new` where `at` (a list of keys and indices) points in `value`; ValueError if it points nowhere."""
    if not isinstance(at, list) or not at:
        raise ValueError("bad path")
    for i, step in enumerate(at):
        in_list = isinstance(value, list) and type(step) is int and 0 <= step < len(value)
        if not (in_list or (isinstance(value, dict) and isinstance(step, str) and step in value)):
            raise ValueError("bad path")
        if i == len(at) - 1:
            value[step] = new
        else:
            value = value[step]


@dataclass
class Entry:
    key: str
    space: str
    endpoint: str
    created: float
    size: int


class CallCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str, out_dir: Path) -> tuple[list, list[str]] | None:
        """(stored outputs, the files among them) with the files copied into `out_dir`, or None.

        Only files this cache stored are restored: each is listed in the entry with where it sits in
        the outputs, must be a plain name in the entry's files/ folder and have its recorded content.
        The outputs themselves are never read as instructions (a Space may return any JSON)."""
        d = self._dir(key)
        try:
            meta = json.loads((d / "entry.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("version") != ENTRY_VERSION:
                return None
            outputs, files = meta["outputs"], meta["files"]
            if not isinstance(files, list):
                return None
            restored: list[str] = []
            for f in files:
                name, digest = f["name"], f["sha256"]
                src = d / "files" / name
                if not (_plain_name(name) and isinstance(digest, str) and stat.S_ISREG(os.lstat(src).st_mode)):
                    return None
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                dst = self._restore(src, Path(out_dir), name, digest)
                _set_at(outputs, f["at"], str(dst))
                restored.append(str(dst))
            return outputs, restored
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged or half-deleted entry is a miss, not an error

    @staticmethod
    def _restore(src: Path, out_dir: Path, name: str, digest: str) -> Path:
        """Copy a stored file into `out_dir` by way of a temp file, so a parallel hit on the same entry
        never sees (or hashes) a half-copied file; an identical file already there is reused."""
        if holds(out_dir / name, digest):
            return out_dir / name
        tmp = out_dir / f".partial-{uuid.uuid4().hex}"
        try:
            shutil.copyfile(src, tmp)
            if sha256_file(tmp) != digest:
                raise ValueError(f"stored file {name} changed")
            return place(tmp, out_dir, name, digest)
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, key: str, space: str, endpoint: str, outputs: list, downloaded: set[str]) -> None:
        """Store a completed call. Only `downloaded` files (this call's own outputs) are copied: any
        other string that happens to name a local file stays a string. The outputs JSON and the list
        of (where in the outputs → stored file) are kept apart. Best effort: a cache that cannot be
        written never fails the call."""
        d = self._dir(key)
        tmp = d.with_name(f".{key}.{uuid.uuid4().hex}.tmp")
        files: list[dict] = []

        def store(v: Any, at: tuple) -> Any:
            if not (isinstance(v, str) and v in downloaded):
                return KEEP
            name = os.path.basename(v)
            if not _plain_name(name):
                raise ValueError(f"unusable file name {name!r}")
            if not (tmp / "files" / name).exists():
                shutil.copyfile(v, tmp / "files" / name)
            files.append({"at": list(at), "name": name, "sha256": sha256_file(tmp / "files" / name)})
            return name

        try:
            (tmp / "files").mkdir(parents=True)
            meta = {
                "version": ENTRY_VERSION,
                "space": space,
                "endpoint": endpoint,
                "created": time.time(),
                "outputs": transform_at(outputs, store),
                "files": files,
            }
            (tmp / "entry.json").write_text(json.dumps(meta, allow_nan=False), encoding="utf-8")
            if (d / "entry.json").exists():
                return  # the same call stored by another thread or process: same outputs
            d.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, d)
        except (OSError, ValueError):
            pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def entries(self) -> list[Entry]:
        found = []
        for meta_path in self.root.glob("*/*/entry.json"):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError, RecursionError):
                continue
            if not isinstance(meta, dict):
                continue  # a corrupt entry is skipped, as get() treats it as a miss
            created = meta.get("created")
            size = sum(f.stat().st_size for f in meta_path.parent.rglob("*") if f.is_file())
            found.append(
                Entry(
                    meta_path.parent.name,
                    str(meta.get("space", "?")),
                    str(meta.get("endpoint", "?")),
                    float(created) if isinstance(created, (int, float)) else 0.0,
                    size,
                )
            )
        return sorted(found, key=lambda e: e.created)

    def clear(self) -> int:
        n = len(self.entries())
        shutil.rmtree(self.root, ignore_errors=True)
        return n
