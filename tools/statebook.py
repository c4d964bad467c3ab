"""One call's dealings with the call cache and its session's gr.State, in one place.

A cached answer is only right for the same inputs *and* the same State: an endpoint that reads the State
is keyed by the call that last wrote it, and a call that writes it unsettles what cached readers would
match until it succeeds. When the writer itself came from the cache the server never built that State,
so it is replayed for real before a reader that misses."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import CallCache
from .space import Session

__all__ = ["StateBook"]


@dataclass
class StateBook:
    session: Session
    cache: CallCache | None  # None: this call is not cached (no cache, --no-cache, or unknown State slots)
    key: str | None
    reads_state: bool
    writes_state: bool

    def lookup(self, out_dir: Path) -> tuple[list, list[str]] | None:
        if self.cache is None or self.key is None:
            return None
        return self.cache.get(self.key, out_dir)

    def pending_writer(self) -> tuple[str, Any] | None:
        """The cached State-writing call to run for real before this reader (taken, so it runs once)."""
        if not self.reads_state or self.session.pending_state is None:
            return None
        pending, self.session.pending_state = self.session.pending_state, None
        return pending

    def served_from_cache(self, endpoint: str, inputs: Any) -> None:
        if self.writes_state:
            assert self.key is not None
            self.session.state_key, self.session.pending_state = self.key, (endpoint, inputs)

    def submitted(self) -> None:
        if self.writes_state:  # until this call succeeds, nothing cached may match the State
            self.session.state_key, self.session.pending_state = f"unsettled-{secrets.token_hex(8)}", None

    def finished(self, space: str, endpoint: str, result: list, downloaded: set[str], flagged: bool) -> None:
        if self.writes_state:
            self.session.state_key = self.key or f"uncached-{secrets.token_hex(8)}"
        if self.cache is not None and self.key is not None and not flagged:  # a flagged output is never kept
            self.cache.put(self.key, space, endpoint, result, downloaded=downloaded)
