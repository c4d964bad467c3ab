"""Live progress for Space calls on stderr (stdout stays clean for results and --json)."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console
from rich.live import Live
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from .events import CallFinished, CallSubmitted, CallUpdated, Event, TurnEnded, TurnStarted

# Terminal control in text from Spaces, the Hub or the model: escape sequences (OSC 52 writes the
# clipboard, CSI 2J clears the screen), 8-bit ones, any other C0/C1 control but \n and \t, bidi overrides.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]?                                # CSI
  | [\x1b][\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)        # OSC, DCS, SOS, PM, APC to BEL or ST
  | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)  # their 8-bit forms
  | \x1b[ -/]*[0-~]?                                      # any other ESC sequence (or an unended OSC's ESC ])
  | \x9b[0-?]*[ -/]*[@-~]?                                # 8-bit CSI
""",
    re.X,
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")  # cannot be written to a UTF-8 terminal
# What JSON output escapes besides what json.dumps does (those characters only occur inside strings).
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: Any) -> str:
    """Text safe to print on a terminal: every printer (stdout, stderr, rich) passes text through this."""
    text = str(text)
    if text.isprintable():  # the usual case; no control, format or surrogate character
        return text
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", _ESCAPES.sub("", text)))


def json_safe(doc: str) -> str:
    """JSON text with C1 controls, line separators and bidi overrides as \\u escapes."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", doc)


class SafeConsole(Console):
    """A Console whose text segments pass through clean(): rich's own styles and cursor moves (control
    segments) still work, but no text it prints — a Space's output in smolagents' step log, a label —
    can send the terminal a control sequence."""

    def render(self, renderable: Any, options: Any = None):
        for seg in super().render(renderable, options):
            yield seg if seg.control or seg.text.isprintable() else Segment(clean(seg.text), seg.style)


err = SafeConsole(stderr=True)

_STYLE = {
    "waiting": "yellow",
    "running": "cyan",
    "generating": "magenta",
    "retrying": "yellow",
    "downloading": "blue",
    "complete": "green",
    "error": "red",
    "cached": "green",
}


class Board:
    """The terminal's view of the calls: one line per call (waiting / running / generating / retrying /
    complete / error), redrawn by a rich Live on stderr during a turn. A listener of the planner's events."""

    def __init__(self, console: Console = err):
        self.console = console
        # One row per call, keyed by (label, number): a batch's parallel calls of one endpoint apart.
        # With its state, last event, start and a generating call's latest words (kept across heartbeats).
        self._rows: dict[tuple[str, int], tuple[str, Event | None, float, str]] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._noted: set[tuple[tuple[str, int], int]] = set()  # (row, attempt) whose retry a log was told
        self._moved: dict[tuple[str, int], str] = {}  # rows running in place of another Space

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
            key = (event.call, event.n)
            _, _, start, latest = self._rows.get(key, ("", None, now, ""))
            if isinstance(event, CallSubmitted):
                self._rows[key] = ("submitted", None, now, "")
                if event.moved():
                    self._moved[key] = event.moved()
            else:
                if isinstance(event, CallUpdated) and event.partial:
                    latest = clean(event.latest(60))  # a streaming Space's latest words, never raw
                self._rows[key] = (event.state, event, start, latest)
        if self._live:
            self._live.update(self.render())
        elif isinstance(event, CallSubmitted) and event.moved() and not self.console.is_terminal:
            self.console.print(f"{event.call} {event.moved()}", markup=False, highlight=False, soft_wrap=True)
        elif isinstance(event, CallFinished) and event.state == "complete" and not self.console.is_terminal:
            # Logs and pipes get one line per finished call instead of a redrawn board.
            self.console.print(f"{event.call} {event.state} {event.elapsed_s:.1f}s", markup=False, highlight=False)
        elif isinstance(event, CallUpdated) and event.note and not self.console.is_terminal:
            with self._lock:  # and one per new submission a refused call waits for
                told = (key, event.attempt) in self._noted
                self._noted.add((key, event.attempt))
            if not told:
                self.console.print(
                    f"{event.call} {event.state}: {event.note}", markup=False, highlight=False, soft_wrap=True
                )

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._moved.clear()

    def render(self) -> Table:
        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
            moved = dict(self._moved)
        for key, (state, u, start, latest) in rows:
            label = key[0]
            detail = [moved[key]] if key in moved else []
            if isinstance(u, CallUpdated):
                if u.queue_size and state == "waiting":
                    detail.append(f"Space queue: {u.queue_size} waiting")
                if u.eta_s:
                    detail.append(f"eta {u.eta_s:.0f}s")
                if u.generated:
                    detail.append(f"{u.generated} partial")
                if latest and state == "generating":
                    detail.append(latest)
                if u.note and state == "retrying":
                    detail.append(u.note)
                elif u.attempt > 1:
                    detail.append(f"attempt {u.attempt}")
            elapsed = u.elapsed_s if isinstance(u, CallFinished) else now - start
            table.add_row(
                Text(label, style="bold"),
                Text(state, style=_STYLE.get(state, "")),
                Text(f"{elapsed:5.1f}s"),
                Text(" · ".join(detail), style="dim"),
            )
        return table

    @contextmanager
    def live(self) -> Iterator[Board]:
        """The board redrawn while a block runs (a single call, a replay), outside any turn."""
        self._start()
        try:
            yield self
        finally:
            self._stop()

    def _start(self) -> None:
        if self.console.is_terminal and self._live is None:
            self._live = Live(
                self.render(), console=self.console, refresh_per_second=8, transient=False, get_renderable=self.render
            )
            self._live.start()

    def _stop(self) -> None:
        live, self._live = self._live, None
        if live:
            live.stop()


def terminal_view(console: Console = err) -> dict:
    """The terminal front end's part of a Planner: the call board, smolagents' step log, token streaming."""
    from smolagents.monitoring import AgentLogger, LogLevel

    return {
        "listeners": [Board(console)],
        "logger": AgentLogger(level=LogLevel.INFO, console=console),
        "stream": console.is_terminal,
    }


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
        # Text, not markup: a Space URL or name may hold "[/x]", which rich markup would reject.
        table.add_row(
            Text(str(name)),
            str(s["calls"]),
            str(s["cache_hits"]),
            str(s["failures"]),
            f"{s['queue_s']:.1f}",
            f"{s['run_s']:.1f}",
        )
    console.print(table)


def print_quota(quota: dict, console: Console = err) -> None:
    """The ZeroGPU seconds a run used, and what is left; or, once, why the quota is unknown."""
    after = quota.get("after") or quota.get("before") or {}
    if "error" in after:
        console.print(Text(f"ZeroGPU quota unknown: {after['error']}", style="dim"))
    elif "remaining_s" in after:
        used = f"{quota['used_s']:g} GPU-seconds used; " if "used_s" in quota else ""
        console.print(Text(f"ZeroGPU: {used}{after['remaining_s']:g} of {after['total_s']:g} left", style="dim"))
