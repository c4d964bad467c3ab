"""The health ledger: how each Space's endpoints behaved in every call made on this machine — ok or the error's
kind, queue and run seconds, when — kept in `$HF_HOME/spacechain/health.sqlite`.

SQLite in WAL mode: several processes (a run, the studio, an MCP server) write and read it at once, each write a
short transaction; the newest `MAX_ROWS` rows are kept. The ledger is advice: a ledger that cannot be opened or
written (a read-only home, a locked file past its wait) never fails a call, it is skipped."""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["MAX_ROWS", "Health", "Ledger", "default_ledger_path"]

MAX_ROWS = 20_000  # ~2 MB: months of calls on one machine
RECENT = 20  # calls per Space and endpoint a summary reads its typical time and recent failures from
_MESSAGE_CHARS = 300
# Outcomes that say nothing about the Space: the caller's own inputs, its cancel, its busy session.
_NOT_THE_SPACE = frozenset(
    {"invalid_inputs", "upload_refused", "unsafe_url", "cancelled", "session_busy", "endpoint_not_found"}
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    space TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT,
    queue_s REAL,
    run_s REAL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_space ON calls (space, endpoint, id);
"""


def default_ledger_path() -> Path:
    """huggingface_hub's conventions: $HF_HOME (default $XDG_CACHE_HOME/huggingface) / spacechain."""
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "spacechain" / "health.sqlite"


@dataclass(frozen=True)
class Health:
    """One Space's (or one endpoint's) record: calls and failures kept, the median run time of its recent
    successful calls, its last error and when, and the failure share of its recent calls."""

    calls: int = 0
    failures: int = 0
    typical_run_s: float | None = None
    last_error: str | None = None  # the error's kind
    last_error_message: str | None = None
    last_error_at: str | None = None
    recent_failure_rate: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line: 'health: 12 calls, 1 failed, typical run 1.2 s, last error queue_full at …'."""
        if not self.calls:
            return "health: no calls from this machine yet"
        text = f"health: {self.calls} call{'s' * (self.calls != 1)}, {self.failures} failed"
        if self.typical_run_s is not None:
            text += f", typical run {self.typical_run_s:.1f} s"
        if self.last_error:
            text += f", last error {self.last_error} at {self.last_error_at}"
        return text

    def rank(self) -> tuple[float, float]:
        """Sort key, better first: recent failures (smoothed, so one failure of a Space never tried is not
        worse than none), then the typical run time (unknown counts as average)."""
        return (round(self.recent_failure_rate, 2), self.typical_run_s if self.typical_run_s is not None else 1e6)


class Ledger:
    """Every call's outcome per Space and endpoint, shared by the processes of one machine."""

    def __init__(self, path: Path | str | None = None, *, max_rows: int = MAX_ROWS):
        self.path = Path(path) if path is not None else default_ledger_path()
        self.max_rows = max_rows
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        # One short-lived connection per operation: threads and processes never share one.
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        if not self._ready:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            self._ready = True
        return db

    def record(
        self,
        space: str,
        endpoint: str,
        outcome: str,
        message: str | None = None,
        queue_s: float | None = None,
        run_s: float | None = None,
    ) -> None:
        """Keep one call's outcome ("ok" or the error's kind); outcomes that are the caller's are skipped."""
        if outcome in _NOT_THE_SPACE:
            return
        try:
            db = self._connect()
            try:
                cur = db.execute(
                    "INSERT INTO calls (space, endpoint, outcome, message, queue_s, run_s, at) VALUES (?,?,?,?,?,?,?)",
                    (space, endpoint, outcome, (message or "")[:_MESSAGE_CHARS] or None, queue_s, run_s, time.time()),
                )
                row = cur.lastrowid or 0
                if row % 100 == 0:  # bounded: the oldest rows go, now and then
                    db.execute("DELETE FROM calls WHERE id <= ?", (row - self.max_rows,))
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            pass

    def health(self, space: str, endpoint: str | None = None) -> Health:
        """The record of `space` (one endpoint of it, or all of them)."""
        return self.healths([space], endpoint).get(space, Health())

    def healths(self, spaces: list[str], endpoint: str | None = None) -> dict[str, Health]:
        """The record of each Space the ledger knows, in one read."""
        if not spaces:
            return {}
        try:
            db = self._connect()
            try:
                marks = ",".join("?" * len(spaces))
                where = f"space IN ({marks})" + (" AND endpoint = ?" if endpoint else "")
                args = [*spaces, *([endpoint] if endpoint else [])]
                rows = db.execute(
                    f"SELECT space, outcome, message, run_s, at FROM calls WHERE {where} ORDER BY id DESC", args
                ).fetchall()
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return {}
        by_space: dict[str, list] = {}
        for row in rows:
            by_space.setdefault(row[0], []).append(row[1:])
        return {space: _summary(found) for space, found in by_space.items()}


def _summary(rows: list) -> Health:
    """rows: (outcome, message, run_s, at), newest first."""
    failed = [r for r in rows if r[0] != "ok"]
    runs = [r[2] for r in rows[:RECENT] if r[0] == "ok" and r[2] is not None]
    recent = rows[:RECENT]
    rate = sum(r[0] != "ok" for r in recent) / (len(recent) + 1)  # +1: a single failure is not 100 %
    last = failed[0] if failed else None
    return Health(
        calls=len(rows),
        failures=len(failed),
        typical_run_s=round(statistics.median(runs), 3) if runs else None,
        last_error=last[0] if last else None,
        last_error_message=last[1] if last else None,
        last_error_at=datetime.fromtimestamp(last[3], timezone.utc).isoformat(timespec="seconds") if last else None,
        recent_failure_rate=round(rate, 3),
    )
