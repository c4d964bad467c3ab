"""What the benchmark scripts share: timing a piece of work, and reading a script's one option."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """fn's result and its wall time in seconds."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def median_s(fn: Callable[[], object], n: int, warmup: int = 0) -> float:
    """The median wall time of n calls of fn, after `warmup` untimed ones (connections, caches)."""
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn)[1] for _ in range(n))


def option(doc: str | None, flag: str, default: T, help: str | None = None) -> T:
    """The value of the script's one command-line option (its --help shows the script's docstring)."""
    ap = argparse.ArgumentParser(description=doc)
    name = flag.lstrip("-")
    ap.add_argument(flag, dest="value", metavar=name.upper(), type=type(default), default=default, help=help)
    return ap.parse_args().value
