"""The studio's conversation (`spacechain ui`), apart from its Gradio page (agent/studio.py): one Run and one
Planner started by the core (agent/start.py) like `run` and `chat`, turns and replays in a worker thread, and
their events on a queue the page drains. No Gradio here."""

from __future__ import annotations

import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

from .events import CallSubmitted, CallUpdated, Event, one_line
from .start import PlanOptions
from .studio_view import View, chain_text, quota_text

__all__ = ["Session", "copy_input", "parse_sets", "past_runs", "text_inputs"]


class Session:
    """The studio's conversation: one Run and one Planner, made at the first goal, kept until "New
    session". Turns and replays run in a worker thread; their events reach the page through a queue.
    Run folders go under `out`; the model is loaded (and checked) once, when the session is made."""

    def __init__(self, out: Path, opts: PlanOptions):
        from .start import load_model

        self.out, self.opts = out, opts
        self.llm = load_model(opts)
        self.run: Any = None
        self.planner: Any = None
        self.view = View()
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._active: Any = None  # the Run the worker is using (the session's, or a replay's)
        self._stopper: Callable[[], None] | None = None
        self._stopping = False
        self._lock = threading.Lock()

    # ---- model ----
    def timeline(self) -> str:
        """The gallery's timeline of this session's calls (inline SVG), empty before the first call."""
        from .gallery import timeline_svg

        calls = self.run.snapshot()["calls"] if self.run is not None else []
        return f'<div class="sc-timeline">{timeline_svg(calls)}</div>' if calls else ""

    def switch_model(self, name: str) -> str:
        from .start import load_model

        llm = load_model(self.opts, name)
        with self._lock:
            self.llm = llm
            if self.planner is not None:
                self.planner.set_model(llm.model)
                self.run.manifest["model"] = llm.spec.label
        return llm.spec.label

    # ---- state ----
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def quota(self) -> str:
        run = self._active or self.run
        return quota_text(run.manifest.get("quota") or {}) if run is not None else ""

    def listen(self, event: Event) -> None:
        self._queue.put(event)
        if self._stopping and isinstance(event, (CallSubmitted, CallUpdated)) and self._active is not None:
            self._active.cancel_all()  # a call the model's code submitted after Stop

    def chain_of(self, path: str) -> str:
        run = self._active or self.run
        if run is None:
            return ""
        return chain_text(run.snapshot()["calls"], path)

    def _run_dir(self, goal: str) -> Path:
        from .run import default_run_dir

        name = default_run_dir(goal).name
        run_dir, n = self.out / name, 2
        while (run_dir / "manifest.json").exists():  # two runs in one second with one goal
            run_dir, n = self.out / f"{name}-{n}", n + 1
        return run_dir

    def new_session(self) -> None:
        if self.busy():
            from spacechain.tools import SpacechainError

            raise SpacechainError("A turn is running; press Stop first.")
        self.close()
        self.view = View()

    def close(self) -> None:
        if self.run is not None:
            self.run.close()
            self.write_gallery(self.run)
        self.run = self.planner = None

    @staticmethod
    def write_gallery(run) -> None:
        from .start import finish_run

        finish_run(run)

    # ---- turns ----
    def start_turn(self, goal: str, files: list[str]) -> None:
        from spacechain.tools import SpacechainError

        from .run import clean_text
        from .start import open_planner

        goal = clean_text(goal or "").strip()
        if not goal:
            raise SpacechainError("Type a goal first: what you want, in plain English.")
        if self.busy():
            raise SpacechainError("A turn is running; wait for it or press Stop.")
        if self.planner is None:
            self.run, self.planner = open_planner(
                self.opts, goal, self._run_dir(goal), model=self.llm, listeners=[self.listen]
            )
        for f in files:
            self.run.allow(copy_input(self.run.dir, f))
        self.view.steps, self.view.calls, self.view.answer, self.view.status = [], {}, "", "running"
        planner, run = self.planner, self.run

        def work() -> None:
            try:
                planner.turn(goal)
            except Exception as exc:  # the turn is recorded as failed; the page gets one line
                self._queue.put(RuntimeError(one_line(exc)))
            finally:
                run.record_quota("after")
                self.write_gallery(run)

        self._start(work, run, planner.stop)

    def start_replay(self, run_dir: Path, sets: dict[str, str], files: list[str]) -> View:
        """Re-run a recorded chain without the LLM in a new run folder: text inputs from `sets`, the
        recorded run's own files replaced in order by `files`."""
        from spacechain.tools import SpacechainError

        from .start import REPLAY_MODEL, Replay, ReplayTurn, open_run

        if self.busy():
            raise SpacechainError("A turn is running; wait for it or press Stop.")
        replay = Replay.load(run_dir, sets)
        run = open_run(self.opts, replay.goal, self._run_dir(replay.goal), REPLAY_MODEL)
        try:
            recorded = [f.get("path") for f in replay.manifest.get("user_files", [])]
            swap = {old: run.allow(copy_input(run.dir, new)) for old, new in zip(recorded, files)}
            for call in replay.chain.calls:
                call.inputs = _swap_paths(call.inputs, swap)
        except BaseException:
            run.close()
            raise
        turn = ReplayTurn(run, replay, [self.listen])

        def work() -> None:
            try:
                turn.turn()
            except Exception:
                pass  # recorded in the run, and on the page through the TurnEnded event
            finally:
                run.close()
                self.write_gallery(run)

        self._start(work, run, turn.stop)
        return View(status="replaying")

    def _start(self, work: Callable[[], None], run, stop: Callable[[], None]) -> None:
        self._queue = queue.Queue()
        self._active, self._stopper, self._stopping = run, stop, False
        self._worker = threading.Thread(target=work, daemon=True, name="spacechain-studio-turn")
        self._worker.start()

    def stop(self) -> bool:
        if not self.busy() or self._stopper is None:
            return False
        self._stopping = True
        self._stopper()
        return True

    def drain(self, view: View) -> list[str]:
        """Apply the queued events to `view` (and the results' readable names, once a turn has written them);
        returns the one-line errors the worker reported."""
        errors: list[str] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                run = self._active or self.run
                if run is not None:
                    view.keep_names(run.manifest.get("results"))
                return errors
            if isinstance(item, Exception):
                errors.append(str(item))
            else:
                view.apply(item, self.chain_of)


def copy_input(run_dir: Path, path: str) -> str:
    """A file the user gave on the page, copied into the run's inputs/ with its name and bytes (once: the
    page keeps a file in its upload box from turn to turn)."""
    import filecmp

    src = Path(path)
    inputs = run_dir / "inputs"
    inputs.mkdir(exist_ok=True)
    name = src.name.split("/")[-1] or "file"
    dest, n = inputs / name, 2
    while dest.exists():
        if filecmp.cmp(src, dest, shallow=False):
            return str(dest)
        dest, n = inputs / f"{src.stem}-{n}{src.suffix}", n + 1
    shutil.copyfile(src, dest)
    return str(dest)


def _swap_paths(value: Any, swap: dict[str, str]) -> Any:
    """`value` with each recorded user file (a path, or a FileData's path) replaced by the new one."""
    from spacechain.tools.nested import KEEP, transform

    return transform(value, lambda v: swap.get(v, v) if isinstance(v, str) else KEEP)


def past_runs(out: Path) -> list[str]:
    """Run folders under --out, newest first."""
    if not out.is_dir():
        return []
    runs = [d for d in out.iterdir() if d.is_dir() and (d / "manifest.json").is_file()]
    return [d.name for d in sorted(runs, key=lambda d: d.stat().st_mtime, reverse=True)]


def text_inputs(manifest: dict) -> str:
    """The chain's text inputs as `N.name=value` lines, for the replay box."""
    lines = []
    calls = [c for c in manifest.get("calls", []) if c.get("status") == "complete"]
    for n, c in enumerate(calls, start=1):
        for name, value in (c.get("inputs") or {}).items() if isinstance(c.get("inputs"), dict) else []:
            if isinstance(value, str) and not os.path.isabs(value) and "\n" not in value:
                lines.append(f"{n}.{name}={value}")
    return "\n".join(lines)


def parse_sets(text: str) -> dict[str, str]:
    """The replay box's lines (blank ones skipped) as the replay's changes to its inputs."""
    from .start import overrides

    return overrides([line for line in (text or "").splitlines() if line.strip()], "Each line of the inputs box is")
