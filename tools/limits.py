"""Limits on what one call may read: bytes per file and per call, files per call, one deadline shared by
a call's stream and downloads, capped bodies and JSON depth."""

from __future__ import annotations

import contextvars
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import httpx

from .errors import (
    CallTimeout,
    Cancelled,
    SpacechainError,
    TooLarge,
)

__all__ = [
    "LIMIT_ENV",
    "MAX_DEPTH",
    "CallScope",
    "Limits",
    "call_scope",
    "current_scope",
    "read_capped",
    "shutdown",
    "too_big",
    "too_deep",
]

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
# Client argument → environment variable, for the limits a user may want to change.
LIMIT_ENV = {
    "max_file_bytes": "SPACECHAIN_MAX_FILE_BYTES",
    "max_call_bytes": "SPACECHAIN_MAX_CALL_BYTES",
    "max_files": "SPACECHAIN_MAX_FILES",
}
_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)i?b?\s*", re.I)


@dataclass(frozen=True)
class Limits:
    """Caps on what one response, one file and one call may read from the network."""

    max_file_bytes: int = 2 * GiB  # one downloaded file
    max_call_bytes: int = 4 * GiB  # all files one call downloads
    max_files: int = 256  # files one call downloads
    max_json_bytes: int = 16 * MiB  # an API answer (/info, /config, upload, submit)
    max_error_bytes: int = 64 * KiB  # read of an error body (the rest is dropped)
    max_event_bytes: int = 16 * MiB  # one SSE line or event
    read_s: float = 120.0  # reading one API answer's body

    @classmethod
    def from_env(cls, **given: int | None) -> Limits:
        """Defaults, overridden by the environment, overridden by `given` (Client arguments)."""
        values: dict[str, int] = {}
        for name, env in LIMIT_ENV.items():
            value: object = given.get(name)
            if value is None and os.environ.get(env, "").strip():
                m = _SIZE.fullmatch(os.environ[env])
                if not m:
                    raise SpacechainError(
                        f"{env}={os.environ[env][:40]!r} is not a number; give a count or a size such as 512M or 2G."
                    )
                value = int(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower())
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise SpacechainError(f"{name} must be a positive whole number; got {value!r}.")
                values[name] = value
        return cls(**values)


class CallScope:
    """One call's deadline, shared by its result stream and its downloads, and the responses in flight,
    so that cancelling or expiring the call cuts them at once instead of after their next read."""

    def __init__(self, timeout: float | None):
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.stopped: str | None = None  # "cancelled" or "expired"
        self._open: set[httpx.Response] = set()
        self._lock = threading.Lock()

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check(self, what: str) -> None:
        """Raise if the call was stopped or its time is up."""
        left = self.remaining()
        if self.stopped == "cancelled":
            raise Cancelled(f"{what}: the call was cancelled.")
        if self.stopped == "expired" or (left is not None and left <= 0):
            raise CallTimeout(
                f"{what}: not done when the call's {self.timeout:g} s ran out; retry with a longer "
                "timeout or pick a faster Space."
            )

    @contextmanager
    def track(self, resp: httpx.Response) -> Iterator[None]:
        with self._lock:
            self._open.add(resp)
            stopped = self.stopped
        if stopped:  # stopped while the response was opening
            shutdown(resp)
        try:
            yield
        finally:
            with self._lock:
                self._open.discard(resp)

    def stop(self, reason: str) -> None:
        with self._lock:
            self.stopped = self.stopped or reason
            open_ = list(self._open)
        for resp in open_:
            shutdown(resp)


_SCOPE: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("spacechain_call", default=None)


@contextmanager
def call_scope(scope: CallScope) -> Iterator[CallScope]:
    """Make `scope` the current call's for the requests of this thread."""
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_scope() -> CallScope | None:
    return _SCOPE.get()


def shutdown(resp: httpx.Response) -> None:
    """Cut a response's connection now. Closing it from another thread does not wake a reader blocked
    in recv() (it would wait for the next byte); shutting the socket down does, and the server sees
    the disconnect (gradio cancels the job)."""
    try:
        stream = resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # base method: also for an SSLSocket
            return
    except (OSError, AttributeError, TypeError):
        pass
    try:
        resp.close()
    except Exception:
        pass


def read_capped(
    resp: httpx.Response, cap: int, what: str, *, truncate: bool = False, deadline: float | None = None
) -> bytes:
    """Read a streamed body of at most `cap` bytes (decoded) and keep it as `resp.content`. Over the cap:
    a TooLarge error, or with `truncate` the first `cap` bytes (for error bodies, read only for a message)."""
    declared = resp.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > cap and "content-encoding" not in resp.headers:
        raise TooLarge(
            f"{what}: the answer is {int(declared)} bytes, more than the {cap} this kind of answer "
            "may have; the server is broken or hostile: pick another Space."
        )
    chunks, size = [], 0
    for chunk in resp.iter_bytes(1 << 16):
        if size + len(chunk) > cap:
            if not truncate:
                raise TooLarge(
                    f"{what}: the answer is over {cap} bytes, more than this kind of answer may have; "
                    "the server is broken or hostile: pick another Space."
                )
            chunks.append(chunk[: cap - size])
            break
        chunks.append(chunk)
        size += len(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise CallTimeout(f"{what}: the answer took too long to arrive; retry later.")
    resp._content = b"".join(chunks)  # what Response.read() sets: .json() and .text work as usual
    return resp._content


MAX_DEPTH = 100  # nesting of a JSON answer: deeper ones are refused before recursive code walks them


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts nest deeper than `limit` (checked without recursion)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def too_big(what: str, cap: int, limit: str) -> TooLarge:
    return TooLarge(f"{what}: stopped at {cap} bytes, {limit}; raise it if such a file is expected.")
