"""Whole plans checked before the first submission: every stage's Space resolvable and running, its
endpoint present, every item's inputs valid with the placeholders filled in, and each file output
feeding a file input of a kind it can take. A plan whose third stage is wrong runs no stage at all.

The outputs of earlier stages are not known yet, so each stands in as a value of the type its endpoint
declares (a file of the right media, a number, text) and goes through the same checks as a real call."""

from __future__ import annotations

from typing import Any, Callable

from .errors import InvalidInputs, SpacechainError
from .files import is_local_file
from .nested import is_url
from .schema import Endpoint, Return

__all__ = ["PlanProblems", "check_batch", "check_pipeline", "stand_ins"]

MAX_REPORTED = 12  # problems listed in one message; the count says how many there were
_MEDIA_EXT = {"Image": ".png", "Audio": ".wav", "Video": ".mp4", "Model3d": ".glb", "Gallery": ".png"}
_SAMPLE = {"float": 0.0, "int": 0, "bool": False, "str": ""}


class PlanProblems(InvalidInputs):
    """Everything wrong with a plan, found before any Space was called."""

    fields = ("problems",)

    def __init__(self, problems: list[str]):
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        super().__init__(
            f"The plan was not run ({len(problems)} problem{'s' * (len(problems) != 1)}; no Space "
            f"was called): {shown}{more}."
        )
        self.problems = problems


def _stand_in(stage: int, index: int, ret: Return) -> Any:
    """What output `index` of `stage` will be, as far as its endpoint's schema tells."""
    ext = _MEDIA_EXT.get(ret.component)
    if ext or "filepath" in ret.python_type:
        return f"<stage {stage} output {index}>{ext or ''}"
    return _SAMPLE.get(ret.python_type, f"<stage {stage} output {index}>")


def stand_ins(stage: int, ep: Endpoint) -> list:
    """What each output of `ep`, called as `stage`, stands in as before it ran."""
    return [_stand_in(stage, i, r) for i, r in enumerate(ep.returns)]


def _endpoints(
    client, stages: list[dict], problems: list[str], where: Callable[[str], str] | None = None
) -> list[Endpoint | None]:
    eps: list[Endpoint | None] = []
    for k, st in enumerate(stages):
        if not isinstance(st, dict) or not isinstance(st.get("space"), str) or not isinstance(st.get("endpoint"), str):
            problems.append(f"stage {k} must be a dict with 'space', 'endpoint' and 'inputs'")
            eps.append(None)
            continue
        try:
            eps.append(client.endpoint(where(st["space"]) if where else st["space"], st["endpoint"]))
        except SpacechainError as exc:
            problems.append(f"stage {k}: {exc}".rstrip("."))
            eps.append(None)
    return eps


def check_pipeline(client, items: list, stages: list, where: Callable[[str], str] | None = None) -> list[str]:
    """The problems of a pipeline plan (empty when it may run), for every item and stage at once; `where`
    names the Space a stage's calls will run on (an equivalent, when its own is not running)."""
    from .pipeline import fill

    if not isinstance(items, (list, tuple)) or not isinstance(stages, (list, tuple)) or not stages:
        return ["run_pipeline needs a list of items and a non-empty list of stages"]
    problems: list[str] = []
    eps = _endpoints(client, list(stages), problems, where)
    outs = [stand_ins(k, ep) if ep else None for k, ep in enumerate(eps)]
    for n, item in enumerate(items):
        for k, (st, ep) in enumerate(zip(stages, eps)):
            if ep is None or any(o is None for o in outs[:k]):
                break  # later stages read outputs this check cannot know
            done = [o for o in outs[:k] if o is not None]
            try:
                inputs = fill(st.get("inputs"), item, done[-1] if done else None, done)
                ep.to_positional(inputs)
                _check_local_files(client, ep, inputs)
            except SpacechainError as exc:
                problems.append(f"item {n} stage {k} ({st['space']} {ep.name}): {exc}".rstrip("."))
    return _unique(problems)


def check_batch(
    client,
    space: str,
    endpoint: str,
    inputs_list: list,
    sessions: list | None = None,
    where: Callable[[str], str] | None = None,
) -> list[str]:
    if not isinstance(inputs_list, (list, tuple)):
        return ["inputs_list must be a list with one inputs dict (or list) per item"]
    if sessions is not None and len(sessions) != len(inputs_list):
        return [f"sessions has {len(sessions)} names for {len(inputs_list)} items; give one per item"]
    problems: list[str] = []
    (ep,) = _endpoints(client, [{"space": space, "endpoint": endpoint}], problems, where)
    for n, inputs in enumerate(inputs_list if ep else []):
        assert ep is not None
        try:
            ep.to_positional(inputs)
            _check_local_files(client, ep, inputs)
        except SpacechainError as exc:
            problems.append(f"item {n}: {exc}".rstrip("."))
    return _unique(problems)


def _check_local_files(client, ep: Endpoint, inputs: Any) -> None:
    """A local file named in a file input exists and may be uploaded (the run's sandbox says so)."""
    import os

    from .errors import UploadRefused

    for p in ep.params:
        value = ep.given(inputs).get(p.name)
        if not p.takes_files or value is None or p.file_shape not in ("single", "list"):
            continue
        for ref in value if isinstance(value, (list, tuple)) else [value]:
            path = ref.get("path") if isinstance(ref, dict) else ref
            if not isinstance(path, str) or is_url(path) or path.startswith("<stage "):
                continue
            if not is_local_file(path):
                raise UploadRefused(f"{p.name}: file {path[:200]} does not exist")
            if getattr(client, "upload_guard", None):
                client.upload_guard(os.path.realpath(os.path.expanduser(path)))


def _unique(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))
