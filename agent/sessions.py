"""Gradio sessions kept across processes: `spacechain call --session NAME` continues the session (its
gr.State) an earlier process used, with the State's cache key, from $HF_HOME/spacechain/sessions."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["check_name", "kept_sessions", "restore_session", "save_session", "session_file", "sessions_dir"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def sessions_dir() -> Path:
    """$HF_HOME/spacechain/sessions (huggingface_hub's conventions, as the call cache)."""
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "spacechain" / "sessions"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        from spacechain.tools import InvalidInputs

        raise InvalidInputs(
            f"session name {name[:80]!r} is not valid; use up to 64 letters, digits, '-', '_' or '.', e.g. s1."
        )
    return name


def session_file(space: str, name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", space).strip("_.")[:100] or "space"
    return sessions_dir() / f"{slug}--{name}.json"


def restore_session(client: Any, space: str, name: str) -> None:
    """Give the client's session `name` on `space` the Gradio session hash and State key kept on disk,
    so this call continues the session an earlier process used (and the cache stays per State)."""
    sp = client.space(space)
    sess = sp.session(check_name(name))
    path = session_file(sp.label, name)
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text()[:100_000])
        if data.get("space") != sp.label or not isinstance(data.get("hash"), str):
            raise ValueError
    except (ValueError, AttributeError):
        from spacechain.tools import SpacechainError

        raise SpacechainError(
            f"session file {path} is corrupt; run `spacechain session clear {name}` and start it again."
        ) from None
    sess.hash = data["hash"]
    sess.state_key = data.get("state_key") if isinstance(data.get("state_key"), str) else None
    pending = data.get("pending_state")
    sess.pending_state = (pending[0], pending[1]) if isinstance(pending, list) and len(pending) == 2 else None


def save_session(client: Any, space: str, name: str) -> None:
    sp = client.space(space)
    sess = sp.session(name)
    path = session_file(sp.label, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "space": sp.label,
        "name": name,
        "hash": sess.hash,
        "state_key": sess.state_key,
        "pending_state": list(sess.pending_state) if sess.pending_state else None,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)  # another process never reads half a file


def kept_sessions() -> list[tuple[Path, dict]]:
    """Every kept session file with what it holds ({} for an unreadable one)."""
    found = []
    for path in sorted(sessions_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text()[:100_000])
        except (OSError, ValueError):
            data = {}
        found.append((path, data if isinstance(data, dict) else {}))
    return found
