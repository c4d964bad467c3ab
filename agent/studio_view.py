"""What the studio shows of a run, as plain data and escaped HTML: built from the planner's events while a
turn runs, or from a manifest. No Gradio here (agent/studio.py puts it on the page)."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .events import (
    CallFinished,
    CallSubmitted,
    CallUpdated,
    Event,
    FinalAnswer,
    StepCode,
    StepFinished,
    StepStarted,
    TurnEnded,
    moved_text,
    one_line,
)

__all__ = ["View", "calls_html", "chain_text", "kind_of", "quota_text", "steps_html"]

# Output cards on the page, per kind; a run with more lists the rest by name.
POOLS = {"image": 8, "model3d": 6, "video": 3, "audio": 3, "file": 6}
KINDS = {
    "image": {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"},
    "audio": {".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac"},
    "video": {".mp4", ".webm", ".mov", ".mkv"},
    "model3d": {".glb", ".gltf", ".obj", ".ply", ".splat", ".stl"},
}


def kind_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return next((k for k, exts in KINDS.items() if suffix in exts), "file")


def overflow(outputs: list[dict]) -> list[str]:
    """Names of the outputs that have no card left in their kind's pool."""
    counts: dict[str, int] = {}
    extra = []
    for o in outputs:
        kind = kind_of(o["path"])
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] > POOLS[kind]:
            extra.append(Path(o["path"]).name)
    return extra


@dataclass
class View:
    """What the page shows of one run: built from events while it runs, or from a manifest."""

    steps: list[dict] = field(default_factory=list)
    calls: dict[str, dict] = field(default_factory=dict)
    outputs: list[dict] = field(default_factory=list)  # {"path", "chain"}
    answer: str = ""
    status: str = ""
    # A call's row: "space /endpoint", "#2" and on for repeats; found by the call's number (parallel calls
    # of one endpoint each keep their own row), or by its label for events that carry none.
    rows: dict[int | str, str] = field(default_factory=dict)
    # Results' readable names (results/<name> in the run folder, written when a turn ends), by file.
    names: dict[str, str] = field(default_factory=dict)

    def name_of(self, path: str) -> str:
        """What a card calls its file: the readable name of its copy in results/, else the file's own name."""
        return self.names.get(path) or Path(path).name

    def keep_names(self, results: Any) -> None:
        """Take the readable names from a manifest's `results` list."""
        from .results import saved_results

        self.names = {e["file"]: e["name"] for e in saved_results(results)}

    def apply(self, event: Event, chain_of: Callable[[str], str]) -> None:
        if isinstance(event, StepStarted):
            self._step(event.step)
        elif isinstance(event, StepCode):
            self._step(event.step)["code"] = event.code
        elif isinstance(event, StepFinished):
            self._step(event.step).update(
                thought=event.thought or "(no thought)", code=event.code, error=event.error, done=True
            )
        elif isinstance(event, CallSubmitted):
            n = sum(1 for row in self.calls if row == event.call or row.startswith(f"{event.call} #"))
            self.rows[event.n or event.call] = event.call if n == 0 else f"{event.call} #{n + 1}"
            self.calls[self.rows[event.n or event.call]] = {"state": "submitted", "elapsed": 0.0, "queue": None}
            if event.moved():
                self.calls[self.rows[event.n or event.call]]["moved"] = event.moved()
        elif isinstance(event, CallUpdated):
            row = self.rows.get(event.n or event.call, event.call)
            latest = self.calls.get(row, {}).get("partial")  # a generator's latest yield, kept between updates
            if event.partial:
                latest = f"#{event.generated}: {event.latest()}"
            moved = self.calls.get(row, {}).get("moved")
            self.calls[row] = {"state": event.state, "elapsed": event.elapsed_s, "queue": event.queue_size}
            if moved:
                self.calls[row]["moved"] = moved
            if latest:
                self.calls[row]["partial"] = latest
            if event.note:
                self.calls[row]["note"] = event.note
        elif isinstance(event, CallFinished):
            state = "cancelled" if event.error and "cancelled" in event.error else event.state
            row = self.rows.get(event.n or event.call, event.call)
            moved = self.calls.get(row, {}).get("moved")
            self.calls[row] = {"state": state, "elapsed": event.elapsed_s, "queue": None, "error": event.error}
            if moved:
                self.calls[row]["moved"] = moved
            for f in event.files:
                if f not in {o["path"] for o in self.outputs}:
                    self.outputs.append({"path": f, "chain": chain_of(f) or event.call})
        elif isinstance(event, FinalAnswer):
            self.answer = "" if event.answer is None else str(event.answer)
        elif isinstance(event, TurnEnded):
            self.steps = [s for s in self.steps if s["done"] or s["code"]]  # a step the Stop cut before its code
            why = f": {one_line(event.error)}" if event.error and event.status != "interrupted" else ""
            self.status = f"turn {event.turn} {'done' if event.status == 'success' else event.status}{why}"

    def _step(self, n: int) -> dict:
        for s in self.steps:
            if s["step"] == n:
                return s
        self.steps.append({"step": n, "thought": None, "code": None, "error": None, "done": False})
        return self.steps[-1]

    @classmethod
    def from_manifest(cls, manifest: dict, run_dir: Path) -> View:
        view = cls(answer="" if manifest.get("final_answer") is None else str(manifest["final_answer"]))
        for s in manifest.get("steps", []):
            view.steps.append({"step": s.get("step"), "thought": None, "code": s.get("code"), "error": s.get("error")})
        for c in manifest.get("calls", []):
            label = f"{c.get('space')} /{str(c.get('endpoint', '')).lstrip('/')}"
            n = sum(1 for row in view.calls if row == label or row.startswith(f"{label} #"))
            label = label if n == 0 else f"{label} #{n + 1}"
            err = (c.get("error") or {}).get("message") if isinstance(c.get("error"), dict) else None
            view.calls[label] = {"state": c.get("status"), "elapsed": c.get("total_s") or 0.0, "queue": None}
            if err:
                view.calls[label]["error"] = err
            moved = c.get("moved") if isinstance(c.get("moved"), dict) else None
            if moved and isinstance(moved.get("from"), str):
                because = moved.get("reason") if isinstance(moved.get("reason"), str) else None
                view.calls[label]["moved"] = moved_text(moved["from"], because)
        calls = manifest.get("calls", [])
        root = str(Path(run_dir).resolve()) + os.sep
        for f in manifest.get("files", []):
            # Only the run folder's own files: a manifest edited by hand names no other file to the page.
            if isinstance(f, str) and str(Path(f).resolve()).startswith(root) and os.path.isfile(f):
                view.outputs.append({"path": f, "chain": chain_text(calls, f)})
        view.keep_names(manifest.get("results"))
        view.status = f"opened {Path(run_dir).name} ({manifest.get('status')})"
        return view


def chain_text(calls: list[dict], path: str) -> str:
    """The call that made `path` (the run record's answer): Space, endpoint and its key inputs (files by
    name, text cut short)."""
    from .record import RecordError, RunRecord

    try:
        call = RunRecord.from_dict({"calls": calls}).producer(path)
    except RecordError:  # a malformed entry: no chain shown rather than a broken page
        return ""
    return f"{call.space} /{call.endpoint.lstrip('/')} ({key_inputs(call.inputs)})" if call else ""


def key_inputs(inputs: Any, limit: int = 4) -> str:
    if isinstance(inputs, dict):
        items = list(inputs.items())
    elif isinstance(inputs, list):
        items = [(str(i), v) for i, v in enumerate(inputs)]
    else:
        items = [("input", inputs)] if inputs is not None else []
    shown = []
    for name, value in items[:limit]:
        if isinstance(value, dict) and "path" in value:
            value = value["path"]
        if isinstance(value, str) and (os.sep in value or "://" in value):
            value = Path(value).name
        shown.append(f"{name}={one_line(value, 60)}")
    return ", ".join(shown) + (", …" if len(items) > limit else "")


# ---------------------------------------------------------------- rendering (escaped HTML only)


def steps_html(steps: list[dict]) -> str:
    parts = []
    for s in steps:
        thought = s.get("thought") or ("(no thought)" if s.get("done", True) else "working…")
        title = html.escape(one_line(thought, 160))
        code = html.escape(s.get("code") or "")
        error = f'<div class="sc-error">{html.escape(one_line(s["error"]))}</div>' if s.get("error") else ""
        parts.append(
            f'<details class="sc-step"><summary>Step {s.get("step")}: {title}</summary>'
            f"<pre><code>{code}</code></pre></details>{error}"  # the error stays in view when folded
        )
    return "".join(parts) or '<p class="sc-empty">No steps yet.</p>'


def calls_html(calls: dict[str, dict]) -> str:
    rows = []
    for label, c in calls.items():
        queue_size = "" if c.get("queue") is None else str(c["queue"])
        err = html.escape(one_line(c["error"], 200)) if c.get("error") else ""
        if not err and c.get("partial") and c.get("state") == "generating":
            err = f'<span class="sc-partial">{html.escape(c["partial"])}</span>'
        if not err and c.get("note") and c.get("state") == "retrying":
            err = html.escape(one_line(c["note"], 200))
        if c.get("moved"):  # a call running on an equivalent of the Space asked for
            moved = f'<span class="sc-moved">{html.escape(one_line(c["moved"], 200))}</span>'
            err = f"{moved} · {err}" if err else moved
        rows.append(
            f'<tr class="sc-call" data-state="{html.escape(str(c.get("state")))}"><td>{html.escape(label)}</td>'
            f"<td>{html.escape(str(c.get('state')))}</td><td>{float(c.get('elapsed') or 0):.1f} s</td>"
            f"<td>{queue_size}</td><td>{err}</td></tr>"
        )
    if not rows:
        return '<p class="sc-empty">No Space calls yet.</p>'
    head = "<tr><th>Space call</th><th>state</th><th>elapsed</th><th>queue</th><th>details</th></tr>"
    return f'<table class="sc-calls">{head}{"".join(rows)}</table>'


def quota_text(quota: dict) -> str:
    after = quota.get("after") or quota.get("before") or {}
    if "remaining_s" not in after:
        return ""
    used = f"{quota['used_s']:g} GPU-seconds used; " if "used_s" in quota else ""
    return f"ZeroGPU: {used}{after['remaining_s']:g} of {after['total_s']:g} s left"


# ---------------------------------------------------------------- the session
