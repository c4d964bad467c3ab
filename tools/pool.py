"""Space pools: the Spaces equivalent to one (same endpoint signatures, found through the Hub's duplicates and
confirmed by reading each one's /info), the fallback policy that moves a call to the best of them when its
Space cannot run it, and the spread of a batch over the healthy ones.

A small layer over `Client`: it runs a caller's attempt (submit and wait, after the client's own retries) and,
on a failure that belongs to the Space rather than the inputs, runs it again on an equivalent. Every path
(the toolset, the fan-out, `spacechain call --fallback`) goes through `Pool.run`."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

from .errors import (
    RUNNING_STAGES,
    GpuUnavailable,
    HTTPError,
    QueueFull,
    QuotaExceeded,
    SpacechainError,
    SpaceError,
    SpaceNotRunning,
)
from .health import Health
from .hub import SearchHit
from .refs import parse_ref
from .schema import Endpoint

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Equivalent", "Pool", "Spread", "move_reason", "signature"]

T = TypeVar("T")
MAX_MOVES = 3  # equivalents one call tries before its error stands
_CONFIRM_WORKERS = 6  # /info reads in flight while confirming candidates
_SPACE_WIDE = ("space_not_running", "http_error", "quota_exceeded")  # a move that holds for every session


def signature(ep: Endpoint) -> tuple:
    """What makes two endpoints interchangeable: parameter names, types and components, which take files,
    and the outputs. Labels, defaults and descriptions may differ between copies."""
    params = tuple((p.name, p.component, p.python_type, p.takes_files) for p in ep.params)
    return params, tuple((r.component, r.python_type) for r in ep.returns)


def zero_gpu(hardware: str | None) -> bool:
    return bool(hardware) and str(hardware).startswith("zero")


def move_reason(exc: BaseException) -> str | None:
    """The error kind that makes a call move to an equivalent, or None when it must not: the Space is not
    running, its app is gone (404), its queue is full, ZeroGPU had no GPU after the retries, or the ZeroGPU
    quota is spent. A Space's own error about the inputs (gr.Error) never moves a call."""
    if isinstance(exc, (QuotaExceeded, GpuUnavailable)):
        return exc.kind
    if isinstance(exc, SpaceError):
        return None
    if isinstance(exc, (SpaceNotRunning, QueueFull)):
        return exc.kind
    if isinstance(exc, HTTPError) and exc.status == 404:
        return exc.kind
    return None


@dataclass(frozen=True)
class Equivalent:
    """A Space whose endpoints match the asked one's. `confirmed`: its /info was read and matched (a Space
    that is not running cannot be read, so it is listed unconfirmed, with its stage)."""

    id: str
    stage: str | None
    hardware: str | None
    likes: int
    relation: str  # origin | duplicate | sibling | same name
    confirmed: bool
    health: Health = field(default_factory=Health)

    @property
    def running(self) -> bool:
        return (self.stage or "RUNNING") in RUNNING_STAGES

    @property
    def usable(self) -> bool:
        return self.running and self.confirmed

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "stage": self.stage,
            "hardware": self.hardware,
            "likes": self.likes,
            "relation": self.relation,
            "confirmed": self.confirmed,
            "health": self.health.to_dict(),
        }


class Pool:
    """Equivalents found once per client, where each (Space, session) runs now, and whether the user's
    ZeroGPU quota ran out (then no ZeroGPU Space is a way out)."""

    def __init__(self, client: Client):
        self.client = client
        self.quota_out = False
        self._lock = threading.Lock()
        self._found: dict[tuple, list[Equivalent]] = {}
        self._routes: dict[tuple[str, str], tuple[str, dict]] = {}

    # ---------- equivalents ----------
    def alternatives(self, space: str, endpoints: str | list[str] | None = None) -> list[Equivalent]:
        """The Spaces whose `endpoints` (default: the whole API) have the same signatures as `space`'s, best
        first (running and confirmed, healthy, not spending ZeroGPU quota, fast, liked). A Space given by
        URL has none."""
        ref = parse_ref(space)
        given = [endpoints] if isinstance(endpoints, str) else list(endpoints or [])
        names = tuple(sorted({"/" + e.strip().lstrip("/") for e in given}))
        if not ref.space_id:
            return []
        key = (ref.label, names)
        with self._lock:
            found = self._found.get(key)
        if found is None:
            found = self._discover(ref.space_id, names)
            with self._lock:
                self._found[key] = found
        return self._ranked(found, names)

    def _discover(self, space_id: str, names: tuple[str, ...]) -> list[Equivalent]:
        hub = self.client.hub
        st = hub.status(space_id)
        hits = hub.relatives(st)
        relation = {h.id: _relation(h, space_id, st.duplicated_from) for h in hits}
        reference = self._signatures(space_id, names)
        running = [h for h in hits if (h.stage or "RUNNING") in RUNNING_STAGES]
        with ThreadPoolExecutor(max_workers=_CONFIRM_WORKERS, thread_name_prefix="confirm") as pool:
            sigs = dict(zip([h.id for h in running], pool.map(lambda h: self._signatures(h.id, names), running)))
        if reference is None:
            # The asked Space cannot be read (paused, asleep): its copies' common signature stands in for it.
            lineage = [s for i, s in sigs.items() if s is not None and relation[i] != "same name"]
            reference = Counter(lineage).most_common(1)[0][0] if lineage else None
        found = []
        for h in hits:
            if h.id in sigs:
                if reference is None or sigs[h.id] != reference:
                    continue  # another signature (a changed copy), or nothing to compare with
                found.append(_equivalent(h, relation[h.id], True))
            elif relation[h.id] != "same name":
                found.append(_equivalent(h, relation[h.id], False))  # a copy that is not running now
        return found

    def _signatures(self, space: str, names: tuple[str, ...]) -> tuple | None:
        """The signatures of `names` on `space` (no names: its whole API); None when it cannot be read."""
        try:
            schema = self.client.schema(space)
            if not names:
                return tuple((n, signature(ep)) for n, ep in sorted(schema.endpoints.items()))
            return tuple(signature(schema.endpoint(n, space)) for n in names)
        except SpacechainError:
            return None

    def _ranked(self, found: list[Equivalent], names: tuple[str, ...]) -> list[Equivalent]:
        ledger = self.client.health
        healths = ledger.healths([e.id for e in found], names[0] if len(names) == 1 else None) if ledger else {}
        fresh = [Equivalent(**{**vars(e), "health": healths.get(e.id, Health())}) for e in found]
        return sorted(
            fresh,
            key=lambda e: (
                not e.usable,
                e.health.rank()[0],
                zero_gpu(e.hardware),
                e.health.rank()[1],
                e.relation == "same name",  # a copy the Hub says is one before a look-alike
                -e.likes,
            ),
        )

    def running_alternatives(self, space: str, endpoints: str | list[str], reason: str | None = None) -> list[str]:
        """The ids a call may move to now: running, confirmed, and off ZeroGPU once the quota is spent."""
        no_zero = self.quota_out or reason == QuotaExceeded.kind
        return [
            e.id
            for e in self.alternatives(space, endpoints)
            if e.usable and not (no_zero and zero_gpu(e.hardware)) and e.health.recent_failure_rate < 0.5
        ]

    # ---------- fallback ----------
    def route(self, space: str, session: str | None) -> tuple[str, dict | None]:
        """Where calls on (space, session) go now, and why they moved (None: the Space itself)."""
        label = parse_ref(space).label
        with self._lock:
            found = self._routes.get((label, session or "default")) or self._routes.get((label, "*"))
        return found if found else (space, None)

    def _move(self, space: str, session: str | None, reason: str, target: str, moved: dict) -> None:
        label = parse_ref(space).label
        with self._lock:
            self._routes[(label, "*" if reason in _SPACE_WIDE else session or "default")] = (target, moved)

    def run(
        self,
        space: str,
        endpoint: str,
        session: str | None,
        attempt: Callable[[str, dict | None], T],
        *,
        start: tuple[str, dict | None] | None = None,
        failed: SpacechainError | None = None,
        note: Callable[[str], None] | None = None,
    ) -> T:
        """`attempt(target, moved)` on where (space, session) runs now (or `start`); when it fails for a
        reason that belongs to the Space (`move_reason`), again on the best equivalent not tried yet (a spent
        ZeroGPU quota rules out every ZeroGPU Space). `failed`: the first attempt, on `start`, already ended
        with this error. `note` is told each move in one line."""
        target, moved = start or self.route(space, session)
        tried: list[str] = []
        error = failed
        while True:
            if error is None:
                try:
                    return attempt(target, moved)
                except SpacechainError as exc:
                    error = exc
            reason = move_reason(error)
            if reason is None or len(tried) >= MAX_MOVES:
                raise error
            if reason == QuotaExceeded.kind:
                self.quota_out = True
            tried.append(parse_ref(target).label)
            nxt = self._next(space, endpoint, reason, tried)
            if nxt is None:
                raise error
            moved = {"from": parse_ref(space).label, "reason": reason, "message": str(error)}
            self._move(space, session, reason, nxt, moved)
            if note:
                note(f"{moved['from']} {endpoint} ran on {nxt} instead ({_why(error)})")
            target, error = nxt, None

    def _next(self, space: str, endpoint: str, reason: str, tried: list[str]) -> str | None:
        try:
            ids = self.running_alternatives(space, endpoint, reason)
        except SpacechainError:  # the Hub cannot be asked: the call's own error stands
            return None
        asked = parse_ref(space).label
        if asked not in tried and self._may_take(space, reason):
            ids = [asked, *ids]  # a spread item that began on an equivalent may go back to the Space asked for
        return next((i for i in ids if i not in tried), None)

    def _may_take(self, space: str, reason: str) -> bool:
        try:
            status = self.client.space(space).status
        except SpacechainError:
            return False
        no_zero = self.quota_out or reason == QuotaExceeded.kind
        return not (no_zero and status is not None and zero_gpu(status.hardware))

    def prepare(self, space: str, endpoints: list[str], note: Callable[[str], None] | None = None) -> str:
        """Before a plan is checked: a Space that is not running (or gone) is replaced for every session by
        its best running equivalent for all of `endpoints`; returns where the plan's calls on it go."""
        target, moved = self.route(space, None)
        if moved is not None:
            return target
        try:
            self.client.space(space)
            return space
        except SpacechainError as exc:
            reason = move_reason(exc)
            if reason is None:
                return space  # the plan check reports it
            try:
                ids = self.running_alternatives(space, endpoints, reason)
            except SpacechainError:
                return space
            if not ids:
                return space
            label = parse_ref(space).label
            self._move(space, None, reason, ids[0], {"from": label, "reason": reason, "message": str(exc)})
            if note:
                note(f"{label} {', '.join(endpoints)} run on {ids[0]} instead ({_why(exc)})")
            return ids[0]

    def hint(self, space: str, endpoint: str, exc: BaseException) -> str:
        """For an error that a move would have saved: ' Running equivalents: a, b (…)', else ''."""
        reason = move_reason(exc)
        if reason is None:
            return ""
        try:
            ids = self.running_alternatives(space, endpoint, reason)
        except SpacechainError:
            return ""
        if not ids:
            return ""
        return f" Running equivalents: {', '.join(ids[:5])} (or add --fallback to move the call there)."


class Spread:
    """Items of a batch or pipeline spread over each Space's healthy equivalents: an item's calls on one
    asked Space (its session's State) stay on the Space it was given; a new item goes to the least busy."""

    def __init__(self, pool: Pool, targets: dict[str, list[str]], zero: set[str] | None = None):
        self.pool = pool
        self.targets = targets  # asked Space → where its items may run (itself or its substitute first)
        self.zero = zero or set()  # those on ZeroGPU: none is given a new item once the quota is spent
        self._lock = threading.Lock()
        self._given: dict[tuple[str, str], str] = {}
        self._busy: Counter[str] = Counter()
        self._count: Counter[str] = Counter()

    @classmethod
    def over(cls, pool: Pool, uses: dict[str, list[str]]) -> Spread:
        """uses: asked Space → the endpoints the plan calls on it."""
        targets, zero = {}, set()
        for space, endpoints in uses.items():
            first = pool.prepare(space, endpoints)
            try:
                found = pool.alternatives(space, endpoints)
                alts = pool.running_alternatives(space, endpoints)
                status = pool.client.space(first).status
            except SpacechainError:
                found, alts, status = [], [], None
            targets[space] = [first] + [a for a in alts if a != parse_ref(first).label]
            zero |= {e.id for e in found if zero_gpu(e.hardware)}
            if status is not None and zero_gpu(status.hardware):
                zero.add(first)
        return cls(pool, targets, zero)

    def pick(self, space: str, session: str) -> tuple[str, dict | None]:
        """Where the item in `session` runs its calls on `space`: the Space it was given, or the least busy."""
        with self._lock:
            key = (space, session)
            if key not in self._given:
                options = self.targets.get(space) or [space]
                if self.pool.quota_out:
                    options = [t for t in options if t not in self.zero] or options
                self._given[key] = min(options, key=lambda t: (self._busy[t], self._count[t]))
                self._count[self._given[key]] += 1
            target = self._given[key]
        if parse_ref(target).label == parse_ref(space).label:
            return target, None
        return target, {"from": parse_ref(space).label, "reason": "spread", "message": "spread over equivalents"}

    def settle(self, space: str, session: str, target: str) -> None:
        """The item's call on `space` ran on `target` (maybe after a move): its later calls there go too."""
        with self._lock:
            self._given[(space, session)] = target

    @contextmanager
    def busy(self, target: str) -> Iterator[None]:
        with self._lock:
            self._busy[target] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[target] -= 1


def _why(exc: SpacechainError) -> str:
    """A move's reason in a few words, for the model's observation."""
    if isinstance(exc, SpaceNotRunning):
        return f"it is not running: {exc.stage}"
    if isinstance(exc, QuotaExceeded):
        return "your ZeroGPU quota is spent, so a Space on other hardware"
    if isinstance(exc, GpuUnavailable):
        return "ZeroGPU had no GPU free"
    if isinstance(exc, QueueFull):
        return "its queue is full"
    return f"HTTP {getattr(exc, 'status', '?')}"


def _relation(h: SearchHit, space: str, origin: str | None) -> str:
    if h.id == origin:
        return "origin"
    if h.duplicated_from == space:
        return "duplicate"
    if origin and h.duplicated_from == origin:
        return "sibling"
    return "same name"


def _equivalent(h: SearchHit, relation: str, confirmed: bool) -> Equivalent:
    return Equivalent(h.id, h.stage, h.hardware, h.likes, relation, confirmed)
