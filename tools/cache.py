"""A content-addressed cache of completed calls, on disk.

Key: Space (and its revision when the Hub gives one), endpoint, inputs normalised with files replaced
by their sha256, and — for endpoints that read a `gr.State` — the key of the call that last wrote the
session's state, so a stateful export is never served for another item's model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import KEEP, is_filedata, is_local_file, is_url, sha256_file, transform


def default_cache_dir() -> Path:
    """huggingface_hub's conventions: $HF_HOME (default $XDG_CACHE_HOME/huggingface) / spacechain."""
    if os.environ.get("SPACECHAIN_CACHE"):
        return Path(os.environ["SPACECHAIN_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(hf_home).expanduser() / "spacechain" / "calls"


def normalise(value: Any) -> Any:
    """Inputs with every local file replaced by its content hash (paths differ between runs).
    Key order does not matter: call_key serialises with sorted keys."""
    def visit(v: Any) -> Any:
        if is_filedata(v):
            v = v.get("path", "")
            return {"sha256": sha256_file(v)} if is_local_file(v) else {"file": v}
        if isinstance(v, str) and not is_url(v) and is_local_file(v):
            return {"sha256": sha256_file(v)}
        return KEEP

    return transform(value, visit)


def call_key(space: str, revision: str | None, endpoint: str, data: Any, state_key: str | None) -> str:
    blob = json.dumps({"space": space, "revision": revision, "endpoint": endpoint, "inputs": normalise(data),
                       "state": state_key}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


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
        """(stored outputs, the files among them) with the files copied into `out_dir`, or None."""
        d = self._dir(key)
        try:
            meta = json.loads((d / "entry.json").read_text())
        except (OSError, ValueError):
            return None
        out_dir.mkdir(parents=True, exist_ok=True)
        restored: list[str] = []

        def restore(v: Any) -> Any:
            if not (isinstance(v, dict) and set(v) == {"__file__"}):
                return KEEP
            dst = out_dir / v["__file__"]
            if not dst.exists():
                shutil.copy2(d / "files" / v["__file__"], dst)
            restored.append(str(dst))
            return str(dst)

        try:
            return transform(meta["outputs"], restore), restored
        except OSError:
            return None  # a half-deleted entry is a miss, not an error

    def put(self, key: str, space: str, endpoint: str, outputs: list, downloaded: set[str]) -> None:
        """Store a completed call. Only `downloaded` files (this call's own outputs) are copied: any
        other string that happens to name a local file stays a string. Best effort: a cache that
        cannot be written never fails the call."""
        d = self._dir(key)
        tmp = d.with_name(f".{key}.{uuid.uuid4().hex}.tmp")

        def store(v: Any) -> Any:
            if not (isinstance(v, str) and v in downloaded):
                return KEEP
            name = os.path.basename(v)
            if not (tmp / "files" / name).exists():
                shutil.copy2(v, tmp / "files" / name)
            return {"__file__": name}

        try:
            (tmp / "files").mkdir(parents=True)
            meta = {"space": space, "endpoint": endpoint, "created": time.time(),
                    "outputs": transform(outputs, store)}
            (tmp / "entry.json").write_text(json.dumps(meta))
            if (d / "entry.json").exists():
                return  # the same call stored by another thread or process: same outputs
            d.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, d)
        except OSError:
            pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def entries(self) -> list[Entry]:
        found = []
        for meta_path in self.root.glob("*/*/entry.json"):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            size = sum(f.stat().st_size for f in meta_path.parent.rglob("*") if f.is_file())
            found.append(Entry(meta_path.parent.name, meta.get("space", "?"), meta.get("endpoint", "?"),
                               meta.get("created", 0.0), size))
        return sorted(found, key=lambda e: e.created)

    def clear(self) -> int:
        n = len(self.entries())
        shutil.rmtree(self.root, ignore_errors=True)
        return n
