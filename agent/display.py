"""Live progress for Space calls on stderr (stdout stays clean for results and --json)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text
from spacechain.tools import JobUpdate

err = Console(stderr=True)

_STYLE = {"waiting": "yellow", "running": "cyan", "generating": "magenta",
          "downloading": "blue", "complete": "green", "error": "red", "cached": "green"}


class Board:
    """One line per job (waiting / running / generating / complete / error), redrawn by a rich Live on
    stderr."""

    def __init__(self, console: Console = err):
        self.console = console
        self._rows: dict[str, tuple[str, JobUpdate | None, float]] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def callback(self, label: str):
        start = time.monotonic()
        with self._lock:
            self._rows[label] = ("submitted", None, start)

        def on_update(u: JobUpdate) -> None:
            with self._lock:
                self._rows[label] = (u.state, u, start)
            if self._live:
                self._live.update(self.render())
            elif u.state == "complete" and not self.console.is_terminal:
                # Logs and pipes get one line per finished call instead of a redrawn board.
                self.console.print(f"{label} {u.state} {u.elapsed_s:.1f}s", markup=False, highlight=False)

        return on_update

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def render(self) -> Table:
        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
        for label, (state, u, start) in rows:
            detail = []
            if u and u.queue_size and state == "waiting":
                detail.append(f"Space queue: {u.queue_size} waiting")
            if u and u.eta_s:
                detail.append(f"eta {u.eta_s:.0f}s")
            if u and u.generated:
                detail.append(f"{u.generated} partial")
            elapsed = u.elapsed_s if (u and state in ("complete", "error")) else now - start
            table.add_row(Text(label, style="bold"), Text(state, style=_STYLE.get(state, "")),
                          Text(f"{elapsed:5.1f}s"), Text(" · ".join(detail), style="dim"))
        return table

    @contextmanager
    def live(self) -> Iterator["Board"]:
        if not self.console.is_terminal:
            yield self
            return
        with Live(self.render(), console=self.console, refresh_per_second=8, transient=False,
                  get_renderable=self.render) as live:
            self._live = live
            try:
                yield self
            finally:
                self._live = None


def print_stats(stats: dict, console: Console = err) -> None:
    """Per-Space accounting at the end of a run: calls, cache hits, failures, queue and run time."""
    spaces = stats.get("spaces") or {}
    if not spaces:
        return
    table = Table(title="Space usage", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("Space", "calls", "cached", "failed", "queue s", "run s"):
        table.add_column(col, justify="left" if col == "Space" else "right")
    rows = list(spaces.items()) + [("total", stats["total"])]
    for name, s in rows:
        table.add_row(name, str(s["calls"]), str(s["cache_hits"]), str(s["failures"]),
                      f"{s['queue_s']:.1f}", f"{s['run_s']:.1f}")
    console.print(table)
