"""Live progress for Space calls on stderr (stdout stays clean for results and --json)."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .events import CallFinished, CallSubmitted, CallUpdated, Event, TurnEnded, TurnStarted

err = Console(stderr=True)

_STYLE = {"waiting": "yellow", "running": "cyan", "generating": "magenta",
          "downloading": "blue", "complete": "green", "error": "red", "cached": "green"}


class Board:
    """The terminal's view of the calls: one line per call (waiting / running / generating / complete /
    error), redrawn by a rich Live on stderr during a turn. A listener of the planner's events."""

    def __init__(self, console: Console = err):
        self.console = console
        self._rows: dict[str, tuple[str, Event | None, float]] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, TurnStarted):
            self.clear()  # each turn shows its own calls
            self._start()
        elif isinstance(event, TurnEnded):
            self._stop()
        elif isinstance(event, (CallSubmitted, CallUpdated, CallFinished)):
            self._row(event)

    def _row(self, event: CallSubmitted | CallUpdated | CallFinished) -> None:
        now = time.monotonic()
        with self._lock:
            start = self._rows.get(event.call, ("", None, now))[2]
            if isinstance(event, CallSubmitted):
                self._rows[event.call] = ("submitted", None, now)
            else:
                self._rows[event.call] = (event.state, event, start)
        if self._live:
            self._live.update(self.render())
        elif isinstance(event, CallFinished) and event.state == "complete" and not self.console.is_terminal:
            # Logs and pipes get one line per finished call instead of a redrawn board.
            self.console.print(f"{event.call} {event.state} {event.elapsed_s:.1f}s", markup=False, highlight=False)

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
            if isinstance(u, CallUpdated):
                if u.queue_size and state == "waiting":
                    detail.append(f"Space queue: {u.queue_size} waiting")
                if u.eta_s:
                    detail.append(f"eta {u.eta_s:.0f}s")
                if u.generated:
                    detail.append(f"{u.generated} partial")
            elapsed = u.elapsed_s if isinstance(u, CallFinished) else now - start
            table.add_row(Text(label, style="bold"), Text(state, style=_STYLE.get(state, "")),
                          Text(f"{elapsed:5.1f}s"), Text(" · ".join(detail), style="dim"))
        return table

    def _start(self) -> None:
        if self.console.is_terminal and self._live is None:
            self._live = Live(self.render(), console=self.console, refresh_per_second=8, transient=False,
                              get_renderable=self.render)
            self._live.start()

    def _stop(self) -> None:
        live, self._live = self._live, None
        if live:
            live.stop()


def terminal_view(console: Console = err) -> dict:
    """The terminal front end's part of a Planner: the call board, smolagents' step log, token streaming."""
    from smolagents.monitoring import AgentLogger, LogLevel

    return {"listeners": [Board(console)], "logger": AgentLogger(level=LogLevel.INFO, console=console),
            "stream": console.is_terminal}


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
