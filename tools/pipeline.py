"""Fan-out: a batch of calls to one endpoint, and pipelines where each item moves to the next stage as
soon as its previous stage is done.

Real Spaces mostly run one job at a time per endpoint, so the speed comes from keeping every stage's
queue busy: item k is in the 3D Space while item k+1 is in the image Space. Each item gets its own
Gradio session per Space, so stateful Spaces never share a `gr.State` across items."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .errors import CallTimeout, Cancelled, InvalidInputs, SpacechainError
from .nested import KEEP, transform
from .plan import PlanProblems, check_batch, check_pipeline

__all__ = ["fill", "run_batch", "run_pipeline"]

_REF = re.compile(r"^\{(\w+)(?:\[(-?\d+)\])?\}$")
_PLACEHOLDER = re.compile(r"\{(\w+)(?:\[(-?\d+)\])?\}")


def _limiters(client, max_concurrency: int) -> Callable[[str], threading.Semaphore]:
    """One semaphore per Space: at most `max_concurrency` jobs in flight on it from this fan-out."""
    sems: dict[str, threading.Semaphore] = {}
    lock = threading.Lock()

    def get(space: str) -> threading.Semaphore:
        with lock:
            return sems.setdefault(space, threading.Semaphore(max(1, int(max_concurrency))))

    return get


class _FanOut:
    """Workers for one batch or pipeline: each job is waited for with a bound and cancelled past it
    (its session must not stay busy), and Ctrl-C in the caller stops new submissions and cancels
    the jobs in flight instead of letting the workers spend quota on later stages."""

    def __init__(self, submit: Callable, timeout: float | None):
        self.submit, self.timeout = submit, timeout
        self.stop = threading.Event()
        self._jobs: list = []
        self._lock = threading.Lock()

    def run(self, space: str, endpoint: str, inputs: Any, session: str) -> list:
        if self.stop.is_set():
            raise Cancelled("stopped before this call was submitted.")
        job = self.submit(space, endpoint, inputs, session=session)
        with self._lock:
            self._jobs.append(job)
        if self.stop.is_set():
            job.cancel()
        try:
            return job.result(self.timeout)
        except CallTimeout:
            if not job.done():
                job.cancel()
            raise

    def map(self, fn: Callable[[int], Any], n: int) -> list:
        if n == 0:
            return []
        pool = ThreadPoolExecutor(max_workers=min(n, 32), thread_name_prefix="fanout")
        try:
            return list(pool.map(fn, range(n)))
        except BaseException:
            self.stop.set()
            with self._lock:
                jobs = list(self._jobs)
            for job in jobs:
                if not job.done():
                    job.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=False)


def _item_error(exc: Exception) -> dict:
    if isinstance(exc, SpacechainError):
        return exc.to_dict()
    return {"error": "unexpected", "message": f"{exc.__class__.__name__}: {exc}", "retryable": False}


def run_batch(
    client,
    space: str,
    endpoint: str,
    inputs_list: list,
    *,
    max_concurrency: int = 4,
    sessions: list[str] | None = None,
    session_prefix: str = "item",
    submit: Callable | None = None,
    timeout: float | None = None,
    dry_run: bool = False,
) -> Any:
    """Run one endpoint over many inputs, in parallel (at most `max_concurrency` jobs in flight).

    Args:
        client: the `Client` that resolves the Space and runs the calls.
        space, endpoint: where every item goes.
        inputs_list: one inputs dict (or positional list) per item.
        sessions: a session name per item (default `"<session_prefix>-<i>"`: items never share State).
        submit: the function that submits one call (default `client.submit`; a run passes its own).
        timeout: seconds each job may take before it is cancelled.
        dry_run: check the whole batch and return {"ok", "problems", "calls"} without calling the Space.

    Every item is checked before the first submission (PlanProblems lists all that is wrong). Returns,
    per item, its outputs list or an error dict: one failure does not stop the others."""
    problems = check_batch(client, space, endpoint, inputs_list, sessions)
    if dry_run:
        return {"ok": not problems, "problems": problems, "calls": 0 if problems else len(inputs_list)}
    if problems:
        raise PlanProblems(problems)
    limit = _limiters(client, max_concurrency)
    fan = _FanOut(submit or client.submit, timeout)

    def one(i: int) -> Any:
        name = sessions[i] if sessions else f"{session_prefix}-{i}"
        try:
            with limit(space):
                return fan.run(space, endpoint, inputs_list[i], name)
        except Exception as exc:  # one failure must not sink the other items
            return _item_error(exc)

    return fan.map(one, len(inputs_list))


def fill(template: Any, item: Any, prev: list | None, stages: list[list]) -> Any:
    """Replace placeholders in a stage's inputs.

    `{name}` takes the item's field `name` (`{item}` the whole item); `{prev}`/`{prev[i]}` the previous
    stage's outputs; `{s0[i]}`, `{s1[i]}`… the outputs of stage 0, 1… of the same item. A string that
    is exactly one placeholder takes the value as it is (a file path, a number); placeholders inside
    longer text ("a photo of {prompt}") are replaced by their text. An unknown name is an error, never
    sent to a Space as literal text."""

    def visit(value: Any) -> Any:
        if not isinstance(value, str):
            return KEEP
        m = _REF.match(value.strip())
        if m:
            return _lookup(m.group(1), m.group(2), item, prev, stages)
        return _PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), m.group(2), item, prev, stages)), value)

    return transform(template, visit)


def _lookup(name: str, index: str | None, item: Any, prev: list | None, stages: list[list]) -> Any:
    if name == "prev":
        if prev is None:
            raise InvalidInputs("{prev} used in the first stage; the first stage has no previous outputs.")
        value: Any = prev
    elif re.fullmatch(r"s\d+", name):
        k = int(name[1:])
        if k >= len(stages):
            raise InvalidInputs(f"{{{name}}} refers to stage {k}, which has not run yet for this item.")
        value = stages[k]
    elif name == "item":
        value = item
    elif isinstance(item, dict) and name in item:
        value = item[name]
    else:
        fields = ", ".join(item) if isinstance(item, dict) else "none (the item is not a dict; use {item})"
        raise InvalidInputs(
            f"{{{name}}} is not a field of the item; fields: {fields}; also {{prev}}, {{s0}}… and {{item}}."
        )
    try:
        return value if index is None else value[int(index)]
    except (IndexError, KeyError, TypeError):
        raise InvalidInputs(f"{{{name}[{index}]}} is out of range for {str(value)[:100]}.") from None


def run_pipeline(
    client,
    items: list,
    stages: list[dict],
    *,
    max_concurrency: int = 4,
    submit: Callable | None = None,
    timeout: float | None = None,
    dry_run: bool = False,
) -> Any:
    """Push every item through `stages`, pipelined: an item enters stage k+1 as soon as its stage k is
    done, so every Space works at once.

    Args:
        client: the `Client` that resolves the Spaces and runs the calls.
        items: one dict of fields per item (or any value, as `{item}`).
        stages: `[{"space", "endpoint", "inputs"}, ...]`; in inputs, `"{field}"` is the item's field,
            `"{prev[i]}"` output i of the previous stage, `"{sN[i]}"` output i of stage N; placeholders
            also work inside text. Each item has its own session on every Space.
        max_concurrency: most jobs in flight per Space.
        submit: the function that submits one call (default `client.submit`; a run passes its own).
        timeout: seconds each job may take before it is cancelled.
        dry_run: check the whole plan and return {"ok", "problems", "calls"} without calling any Space.

    The whole plan is checked before the first submission (PlanProblems lists all that is wrong).
    Returns per item {"item", "outputs": [outputs of each stage]} or, when a stage failed,
    {"item", "outputs": [...done so far], "error": {...}, "failed_stage": k}."""
    problems = check_pipeline(client, items, stages)
    if dry_run:
        return {"ok": not problems, "problems": problems, "calls": 0 if problems else len(items) * len(stages)}
    if problems:
        raise PlanProblems(problems)
    limit = _limiters(client, max_concurrency)
    fan = _FanOut(submit or client.submit, timeout)

    def one(i: int) -> dict:
        item = items[i]
        done: list[list] = []
        for k, st in enumerate(stages):
            try:
                inputs = fill(st.get("inputs"), item, done[-1] if done else None, done)
                with limit(st["space"]):
                    # The same session name across stages: a stateful Space sees its own item's State.
                    done.append(fan.run(st["space"], st["endpoint"], inputs, f"item-{i}"))
            except Exception as exc:
                return {"item": item, "outputs": done, "error": _item_error(exc), "failed_stage": k}
        return {"item": item, "outputs": done}

    return fan.map(one, len(items))
