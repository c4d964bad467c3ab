"""Fan-out: a batch of calls to one endpoint, and pipelines where each item moves to the next stage as
soon as its previous stage is done.

Real Spaces mostly run one job at a time per endpoint, so the speed comes from keeping every stage's
queue busy: item k is in the 3D Space while item k+1 is in the image Space. Each item gets its own
Gradio session per Space, so stateful Spaces never share a `gr.State` across items."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, Callable

from .errors import CallTimeout, Cancelled, InvalidInputs, SpacechainError
from .nested import KEEP, transform
from .plan import PlanProblems, check_batch, check_pipeline
from .pool import Pool, Spread

__all__ = ["fill", "run_batch", "run_graph", "run_pipeline"]

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
    the jobs in flight instead of letting the workers spend quota on later stages.

    With a pool, a call that its Space cannot run moves to an equivalent (tools.pool); with a spread, each
    item's calls on a Space go to the equivalent it was given. At most `max_concurrency` jobs are in flight
    on each Space that runs them."""

    def __init__(
        self,
        client,
        submit: Callable,
        timeout: float | None,
        max_concurrency: int,
        pool: Pool | None = None,
        spread: Spread | None = None,
        note: Callable[[str], None] | None = None,
    ):
        self.submit, self.timeout = submit, timeout
        self.limit = _limiters(client, max_concurrency)
        self.pool, self.spread, self.note = pool, spread, note
        self.stop = threading.Event()
        self._jobs: list = []
        self._lock = threading.Lock()

    def run(self, space: str, endpoint: str, inputs: Any, session: str) -> list:
        if self.pool is None:
            return self._once(space, None, endpoint, inputs, session)
        start = self.spread.pick(space, session) if self.spread else None
        return self.pool.run(
            space,
            endpoint,
            session,
            lambda target, moved: self._once(target, moved, endpoint, inputs, session, asked=space),
            start=start,
            note=self.note,
        )

    def _once(
        self, space: str, moved: dict | None, endpoint: str, inputs: Any, session: str, asked: str | None = None
    ) -> list:
        if self.stop.is_set():
            raise Cancelled("stopped before this call was submitted.")
        with self.spread.busy(space) if self.spread else nullcontext(), self.limit(space):
            job = self.submit(space, endpoint, inputs, session=session, moved=moved)
            with self._lock:
                self._jobs.append(job)
            if self.stop.is_set():
                job.cancel()
            try:
                result = job.result(self.timeout)
            except CallTimeout:
                if not job.done():
                    job.cancel()
                raise
        if self.spread and asked is not None:
            self.spread.settle(asked, session, space)  # the item's later calls on `asked` share its State here
        return result

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


def _uses(stages: Any) -> dict[str, list[str]]:
    """Each Space a plan calls and the endpoints it calls there (a malformed stage is the check's to report)."""
    uses: dict[str, list[str]] = {}
    for st in stages if isinstance(stages, (list, tuple)) else []:
        if isinstance(st, dict) and isinstance(st.get("space"), str) and isinstance(st.get("endpoint"), str):
            uses.setdefault(st["space"], []).append(st["endpoint"])
    return uses


def _where(
    client, uses: dict[str, list[str]], fallback: bool, note: Callable[[str], None] | None
) -> tuple[Pool | None, Callable[[str], str] | None]:
    """With fallback, the client's pool, and where each Space's calls are planned: a Space that is not
    running is checked as its best running equivalent (none: the check reports it as it is)."""
    if not fallback:
        return None, None
    pool = client.pool
    planned = {space: pool.prepare(space, endpoints, note) for space, endpoints in uses.items()}
    return pool, lambda space: planned.get(space, space)


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
    fallback: bool = False,
    spread: bool = False,
    note: Callable[[str], None] | None = None,
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
        fallback: a call its Space cannot run (not running, gone, queue full, no GPU, no ZeroGPU quota)
            moves to an equivalent Space (tools.pool); `note` is told each move in one line.
        spread: run the items across the Space's healthy equivalents (implies fallback).

    Every item is checked before the first submission (PlanProblems lists all that is wrong). Returns,
    per item, its outputs list or an error dict: one failure does not stop the others."""
    pool, where = _where(client, {space: [endpoint]}, fallback or spread, note)
    problems = check_batch(client, space, endpoint, inputs_list, sessions, where=where)
    if dry_run:
        return {"ok": not problems, "problems": problems, "calls": 0 if problems else len(inputs_list)}
    if problems:
        raise PlanProblems(problems)
    spreader = Spread.over(pool, {space: [endpoint]}) if spread and pool else None
    fan = _FanOut(client, submit or client.submit, timeout, max_concurrency, pool, spreader, note)

    def one(i: int) -> Any:
        name = sessions[i] if sessions else f"{session_prefix}-{i}"
        try:
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
    fallback: bool = False,
    spread: bool = False,
    note: Callable[[str], None] | None = None,
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
        fallback: a call its Space cannot run moves to an equivalent Space (tools.pool), a stage whose
            Space is not running is planned on its best running equivalent; `note` is told each move.
        spread: run the items across each stage's healthy equivalents (implies fallback); an item's
            stages on one Space (its session's State) stay on the Space it was given.

    The whole plan is checked before the first submission (PlanProblems lists all that is wrong).
    Returns per item {"item", "outputs": [outputs of each stage]} or, when a stage failed,
    {"item", "outputs": [...done so far], "error": {...}, "failed_stage": k}."""
    uses = _uses(stages)
    pool, where = _where(client, uses, fallback or spread, note)
    problems = check_pipeline(client, items, stages, where=where)
    if dry_run:
        return {"ok": not problems, "problems": problems, "calls": 0 if problems else len(items) * len(stages)}
    if problems:
        raise PlanProblems(problems)
    spreader = Spread.over(pool, uses) if spread and pool else None
    fan = _FanOut(client, submit or client.submit, timeout, max_concurrency, pool, spreader, note)

    def one(i: int) -> dict:
        item = items[i]
        done: list[list] = []
        for k, st in enumerate(stages):
            try:
                inputs = fill(st.get("inputs"), item, done[-1] if done else None, done)
                # The same session name across stages: a stateful Space sees its own item's State.
                done.append(fan.run(st["space"], st["endpoint"], inputs, f"item-{i}"))
            except Exception as exc:
                return {"item": item, "outputs": done, "error": _item_error(exc), "failed_stage": k}
        return {"item": item, "outputs": done}

    return fan.map(one, len(items))


def run_graph(
    client,
    calls: list[dict],
    *,
    max_concurrency: int = 4,
    submit: Callable | None = None,
    timeout: float | None = None,
) -> list:
    """Run calls that feed each other (a graph), each as soon as the calls it waits for are done.

    Args:
        client: the `Client` that runs the calls.
        calls: `[{"space", "endpoint", "session", "after": [indices of earlier calls], "inputs"}]`, in an
            order where every call comes after those it waits for; `inputs` is a function of the results so
            far (a list, None where not done) giving the call's inputs. Calls in one session on one Space
            run one at a time, in this order (a gr.State flows from one to the next).
        max_concurrency: most jobs in flight per Space.
        submit: the function that submits one call (default `client.submit`; a run passes its own).
        timeout: seconds each job may take before it is cancelled.

    Returns per call its outputs list, or an error dict; a call whose input failed is not submitted (its
    error dict says which call it waited for, with "skipped": True). Nothing is checked here: a caller checks
    the whole graph first."""
    fan = _FanOut(client, submit or client.submit, timeout, max_concurrency)
    after = [set(c.get("after") or ()) for c in calls]
    last: dict[tuple, int] = {}
    for i, c in enumerate(calls):  # one call at a time per session, in the given order
        key = (c["space"], c.get("session") or "default")
        if key in last:
            after[i].add(last[key])
        last[key] = i
    if any(j >= i or j < 0 for i, deps in enumerate(after) for j in deps):
        raise InvalidInputs("run_graph: a call waits for a later one; list the calls in the order they can run.")
    done = [threading.Event() for _ in calls]
    results: list = [None] * len(calls)

    def one(i: int) -> Any:
        try:
            for j in sorted(after[i]):
                done[j].wait()
                if isinstance(results[j], dict):
                    results[i] = {**results[j], "skipped": True, "waited_for": j}
                    return results[i]
            c = calls[i]
            results[i] = fan.run(c["space"], c["endpoint"], c["inputs"](results), c.get("session") or "default")
        except Exception as exc:  # one failure must not sink the calls that do not need it
            results[i] = _item_error(exc)
        finally:
            done[i].set()
        return results[i]

    return fan.map(one, len(calls))
