"""How every front end starts work — the CLI's run, chat and replay, the studio — the same way: the options a
planning front end takes, a run with its planner, a replay told to listeners as a turn, and the run's
manifest and gallery written at the end of each turn.

Nothing here draws or parses arguments. Heavy modules are imported inside the functions, so a front end
that imports this module for its options stays light (`spacechain --help`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .events import Listener
    from .models import ModelSpec
    from .replay import Chain
    from .run import Run
    from .runner import Planner
    from .workflow_run import WorkflowReplay

__all__ = [
    "REPLAY_MODEL",
    "LoadedModel",
    "PlanOptions",
    "Replay",
    "ReplayTurn",
    "check_files",
    "finish_run",
    "load_model",
    "open_planner",
    "open_run",
    "overrides",
]

REPLAY_MODEL = "replay (no LLM)"  # the manifest's model of a replay


@dataclass(frozen=True)
class PlanOptions:
    """What every planning front end takes from its user."""

    model: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    max_steps: int = 20
    max_space_calls: int | None = None
    cache: bool = True  # reuse the results of calls made before (the call cache)


@dataclass(frozen=True)
class LoadedModel:
    """A backend resolved and checked (`spec`, for its label) with its smolagents Model."""

    spec: ModelSpec
    model: Any  # a smolagents Model


def load_model(opts: PlanOptions, name: str | None = None) -> LoadedModel:
    """The LLM `name` (else the options' model) resolved, checked and loaded; no step is taken with it yet."""
    from . import models

    spec = models.resolve(opts.model if name is None else name, opts.api_base, opts.api_key)
    models.check(spec)
    return LoadedModel(spec, models.load(spec))


def check_files(files: Sequence[Path | str]) -> None:
    """Every file the user gave exists (a one-line UploadRefused otherwise), before anything is started."""
    from spacechain.tools import UploadRefused
    from spacechain.tools.files import is_local_file

    for f in files:
        if not is_local_file(str(f)):
            raise UploadRefused(f"--file {f} does not exist; give the path of an existing file.")


def open_run(opts: PlanOptions, goal: str, run_dir: Path, model: str, files: Sequence[Path | str] = ()) -> Run:
    """A new run folder for `goal`, with the user's `files` allowed for upload and the options' cache and budget."""
    from spacechain.tools.cache import CallCache

    from .run import Run

    check_files(files)
    return Run(
        run_dir,
        goal=goal,
        model=model,
        user_files=[str(f) for f in files],
        cache=CallCache() if opts.cache else None,
        max_space_calls=opts.max_space_calls,
    )


def open_planner(
    opts: PlanOptions,
    goal: str,
    run_dir: Path,
    *,
    files: Sequence[Path | str] = (),
    model: LoadedModel | None = None,
    **front: Any,
) -> tuple[Run, Planner]:
    """A run and its planner, every option checked before any Space or LLM is called (the files exist, the
    model resolves and its server answers), and the ZeroGPU quota "before" recorded. `model` is one loaded
    already (a front end that keeps it across runs); `front` is the front end's part of the Planner
    (listeners, logger, stream)."""
    from .runner import Planner

    check_files(files)  # before the model check, which may reach a server
    model = model or load_model(opts)
    run = open_run(opts, goal, run_dir, model.spec.label, files)
    planner = Planner(run, model.model, max_steps=opts.max_steps, **front)
    run.record_quota("before")
    return run, planner


def finish_run(run: Run, viewer: str | None = None, offline: bool = False) -> Path:
    """The run's results copied under readable names, its manifest saved and its gallery written — after every
    turn and at the end — with a local model-viewer copy, or with `offline` the checked viewer copies from the
    cache (no network); the gallery."""
    from .gallery import write_gallery

    run.keep_results()  # saves the manifest
    viewers = None
    if offline:
        from .viewers import offline_viewers

        viewers = offline_viewers()
    return write_gallery(run.dir, run.snapshot(), viewer, viewers)


def overrides(pairs: Sequence[str], what: str = "--set expects") -> dict[str, str]:
    """A replay's changes to its inputs, `name=value` or `N.name=value` (call N only); `what` starts the error."""
    from spacechain.tools import InvalidInputs

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputs(f"{what} name=value (or N.name=value for call N); got {pair!r}.")
        out[name.strip()] = value
    return out


@dataclass
class Replay:
    """A recorded run's chain made ready to run again: its manifest, the chain with the user's changes
    (`sets`: name=value or N.name=value) applied, and the names changed."""

    manifest: dict
    chain: Chain
    overridden: set[str]

    @classmethod
    def load(cls, run_dir: Path, sets: dict[str, str]) -> Replay:
        from .replay import apply_overrides, build_chain, load_manifest

        manifest = load_manifest(run_dir)
        chain = build_chain(manifest)
        apply_overrides(chain, sets)
        return cls(manifest, chain, set(sets))

    @property
    def goal(self) -> str:
        return f"{self.manifest.get('goal', '')} (replay)"

    def execute(self, run: Run, emit: Any = None) -> list:
        """Run the chain in `run`, its calls' events to `emit`."""
        from .replay import replay_chain

        return replay_chain(run, self.chain, self.overridden, emit=emit, user_files=self.manifest.get("user_files"))


class ReplayTurn:
    """A replay run as one turn of `run`, without any LLM, and told to listeners like a planner's turn:
    TurnStarted, the calls' events, FinalAnswer, TurnEnded. `stop()` (from another thread) cancels it; the
    turn then ends as "interrupted"."""

    def __init__(self, run: Run, replay: Replay | WorkflowReplay, listeners: Sequence[Listener] = ()):
        from .events import Emitter

        self.run, self.replay = run, replay
        self.events = Emitter(list(listeners))
        self._stopping = False

    def turn(self) -> None:
        """Runs the chain; what stops it is recorded (turn failed or interrupted, listeners told) and raised."""
        from .events import FinalAnswer, TurnEnded, TurnStarted

        run, replay = self.run, self.replay
        run.record_quota("before")
        run.begin_turn(replay.goal)
        turn = len(run.manifest["turns"])
        self.events.emit(TurnStarted(turn, replay.goal))
        try:
            replay.execute(run, self.events.emit)
        except BaseException as exc:
            interrupted = self._stopping or isinstance(exc, KeyboardInterrupt)
            status, error = ("interrupted", None) if interrupted else ("failed", " ".join(str(exc).split()))
            run.end_turn(status, error)
            self.events.emit(TurnEnded(turn, status, error=error))
            raise
        done = f"replayed {len(replay.chain.calls)} call(s)"
        run.end_turn("success", done)
        self.events.emit(FinalAnswer(turn, f"{done} into {run.dir}"))
        self.events.emit(TurnEnded(turn, "success", done, files=run.produced_files()))

    def stop(self) -> None:
        self._stopping = True
        self.run.cancel_all()
