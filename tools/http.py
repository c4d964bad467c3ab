"""The one HTTP client: token policy, bounded retries with backoff and jitter, status → error mapping."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Iterable, TypeVar
from urllib.parse import urlsplit

import httpx

from spacechain import __version__

from .errors import (
    AuthError,
    CallTimeout,
    ConnectionLost,
    HTTPError,
    InvalidInputs,
    QueueFull,
    RateLimited,
    SpacechainError,
    UploadRefused,
)
from .limits import (  # noqa: F401 - part of this module's surface
    LIMIT_ENV,
    MAX_DEPTH,
    CallScope,
    Limits,
    call_scope,
    current_scope,
    read_capped,
    shutdown,
    too_big,
    too_deep,
)
from .netpolicy import ALLOW_PRIVATE_ENV, TokenPolicy, _CheckedBackend, _origin  # noqa: F401

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "CallScope",
    "DEFAULT_ENDPOINT",
    "GPU_RETRY_ENV",
    "GPU_RETRY_WAITS_S",
    "Http",
    "LIMIT_ENV",
    "Limits",
    "RetryPolicy",
    "TokenPolicy",
    "USER_AGENT",
    "call_scope",
    "current_scope",
    "error_for",
    "find_token",
    "hub_endpoint",
    "read_capped",
    "too_deep",
]

T = TypeVar("T")
DEFAULT_ENDPOINT = "https://huggingface.co"
USER_AGENT = f"spacechain/{__version__}"
CLOSE_WAIT_S = 10.0  # how long close() waits for the last words still on their way (a cancel)


# Client argument → environment variable, for the limits a user may want to change.


def hub_endpoint() -> str:
    """HF_ENDPOINT read at call time (huggingface_hub freezes it at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def find_token() -> str | None:
    from huggingface_hub import get_token  # deferred: importing huggingface_hub costs ~0.2 s

    return get_token()


GPU_RETRY_ENV = "SPACECHAIN_GPU_RETRY_WAITS"
GPU_RETRY_WAITS_S = (5.0, 15.0)  # waits before the 2nd and 3rd submission when ZeroGPU had no GPU free


def gpu_retry_waits() -> tuple[float, ...]:
    """The waits before each new submission of a job ZeroGPU refused: SPACECHAIN_GPU_RETRY_WAITS as
    seconds separated by commas (`none`: no new submission), else the default."""
    text = os.environ.get(GPU_RETRY_ENV, "").strip()
    if not text:
        return GPU_RETRY_WAITS_S
    if text.lower() == "none":
        return ()
    try:
        waits = tuple(float(part) for part in text.split(","))
    except ValueError:
        waits = (-1.0,)
    if not all(0 <= w <= 3600 for w in waits):
        raise SpacechainError(
            f"{GPU_RETRY_ENV}={text[:40]!r} is not a list of seconds; give e.g. 5,15 (or none for no retry)."
        )
    return waits


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: of HTTP requests (`attempts`, with backoff from `base_s` up to `cap_s`), and of a
    job ZeroGPU refused for want of a free GPU (`gpu_waits_s`: the wait before each new submission)."""

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0
    gpu_waits_s: tuple[float, ...] = field(default_factory=gpu_retry_waits)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s * 4)
        return min(self.cap_s, self.base_s * 2**attempt) * (0.5 + random.random() / 2)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = resp.text.strip()
        return "" if text.startswith("<") else text[:200]
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            if body.get(key):
                val = body[key]
                return val if isinstance(val, str) else json.dumps(val)[:300]
    return json.dumps(body)[:300]


class _Retry(Exception):
    """Raised by one attempt of a request for what another attempt may fix."""

    def __init__(self, error: SpacechainError, retry_after: float | None = None):
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


def error_for(resp: httpx.Response, what: str) -> SpacechainError:
    """Map a failed response to the hierarchy; `what` names the request for the message."""
    status, detail = resp.status_code, _detail(resp)
    if status in (401, 403):
        return AuthError(
            f"{what} was refused ({status}): this Space needs a valid HF token with access; "
            "set HF_TOKEN or run `hf auth login`."
        )
    if status == 429:
        ra = _retry_after(resp)
        wait = f" after {ra:.0f} s" if ra else " later"
        return RateLimited(
            f"{what} was rate limited (429): retry{wait}, or log in with an HF token for higher limits.",
            retry_after_s=ra,
        )
    if status == 503 and "queue is full" in detail.lower():
        return QueueFull(f"{what}: the Space's queue is full ({detail}); retry later or pick another Space.")
    if status == 503:
        return HTTPError(
            f"{what}: the Space is unavailable (503), it may be waking up or restarting; retry in a minute.", status
        )
    if status == 413:
        return UploadRefused(f"{what}: the file is larger than the Space accepts ({detail or '413'}).")
    if status == 422:
        return InvalidInputs(f"{what}: the Space rejected the inputs: {detail}")
    return HTTPError(f"{what} failed with HTTP {status}{': ' + detail if detail else ''}.", status)


class Http:
    """One pooled httpx client with the token policy and retries; shared by everything in `tools`."""

    def __init__(
        self,
        token: str | None = None,
        hub: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        limits: Limits | None = None,
    ):
        self.hub = hub or hub_endpoint()
        self.policy = TokenPolicy(token, self.hub, allow_private=os.environ.get(ALLOW_PRIVATE_ENV) == "1")
        self.retry = retry or RetryPolicy()
        self.limits = limits or Limits.from_env()
        self.client = httpx.Client(
            event_hooks={"request": [self.policy]},
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=True,
            headers={"user-agent": USER_AGENT, "x-gradio-user": "api"},
            transport=transport,
        )
        if transport is None:
            # Direct connections resolve and check their address in one place (see _CheckedBackend).
            # Requests through a proxy from the environment are resolved by the proxy, so only their
            # URL is checked (check_fetch).
            self.client._transport._pool._network_backend = _CheckedBackend(self.policy)  # type: ignore[attr-defined]
        self._last_words: list[threading.Thread] = []
        self._words_lock = threading.Lock()

    def last_words(self, send: Callable[..., None], *args: object) -> None:
        """Run `send` (requests that must reach a server, e.g. a cancel telling a Space) in a thread that
        `close()` waits for: a program that ends right after a Ctrl-C still gets them out."""
        thread = threading.Thread(target=send, args=args, daemon=True)
        with self._words_lock:
            self._last_words = [t for t in self._last_words if t.is_alive()] + [thread]
        thread.start()

    def close(self) -> None:
        deadline = time.monotonic() + CLOSE_WAIT_S
        with self._words_lock:
            pending = list(self._last_words)
        for thread in pending:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        retry_on: Iterable[int] = (429, 500, 502, 503, 504),
        resend_after_connect: bool = True,
        ok: Callable[[httpx.Response], bool] | None = None,
        max_bytes: int | None = None,
        **kwargs,
    ) -> httpx.Response:
        """Send with bounded retries; the body is read (at most `max_bytes`, by default the JSON cap).

        Retried: connection failures before anything was sent, and the statuses in `retry_on`.
        Callers whose request is not idempotent pass only statuses that mean "not accepted"."""
        retry_on = frozenset(retry_on)
        netloc = urlsplit(url).netloc

        def once() -> httpx.Response:
            try:
                resp = self.client.send(self.client.build_request(method, url, **kwargs), stream=True)
                try:
                    good = ok(resp) if ok else resp.is_success
                    cap = (max_bytes or self.limits.max_json_bytes) if good else self.limits.max_error_bytes
                    read_capped(resp, cap, what, truncate=not good, deadline=time.monotonic() + self.limits.read_s)
                finally:
                    resp.close()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                lost = ConnectionLost(
                    f"{what}: cannot connect to {netloc} ({exc.__class__.__name__}); "
                    "check the URL or your network, or retry later."
                )
                if not resend_after_connect:
                    raise lost from None
                raise _Retry(lost) from None
            except httpx.TimeoutException:
                raise CallTimeout(f"{what}: no answer from {netloc} in time; retry later.") from None
            except (httpx.TransportError, httpx.StreamError) as exc:
                raise ConnectionLost(
                    f"{what}: connection to {netloc} lost ({exc.__class__.__name__}); retry later."
                ) from None
            except httpx.TooManyRedirects:
                raise ConnectionLost(f"{what}: {netloc} redirects in a loop; check the URL.") from None
            if good:
                return resp
            if resp.status_code in retry_on:
                raise _Retry(error_for(resp, what), _retry_after(resp))
            raise error_for(resp, what)

        return self._retrying(once)

    def download(
        self,
        url: str,
        dest: os.PathLike,
        *,
        what: str,
        timeout: float = 300.0,
        token: bool = True,
        max_bytes: int | None = None,
        limit: str = "the size limit",
    ) -> int:
        """Stream a file to disk and return its size; retried like any idempotent GET. `token=False` never
        sends the token. Stops at `max_bytes` (`limit` names that cap in the error) and at the current
        call's deadline (see CallScope); cancelling the call cuts the transfer."""
        scope = current_scope()
        netloc = urlsplit(url).netloc

        def once() -> int:
            left = scope.remaining() if scope else None
            if scope:
                scope.check(what)
            wait = timeout if left is None else max(min(timeout, left), 0.01)
            try:
                with (
                    self.client.stream(
                        "GET",
                        url,
                        timeout=httpx.Timeout(wait, connect=min(10.0, wait)),
                        extensions={"no_token": not token},
                    ) as resp,
                    scope.track(resp) if scope else nullcontext(),
                ):
                    if not resp.is_success:
                        read_capped(resp, self.limits.max_error_bytes, what, truncate=True)
                        if resp.status_code in (429, 502, 503, 504):
                            raise _Retry(error_for(resp, what), _retry_after(resp))
                        raise error_for(resp, what)
                    return self._save(resp, dest, what, max_bytes, limit, scope)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if scope:
                    scope.check(what)
                raise _Retry(ConnectionLost(f"{what}: cannot connect to {netloc}; retry later.")) from None
            except (httpx.TransportError, httpx.StreamError, httpx.TooManyRedirects) as exc:
                if scope:
                    scope.check(what)  # cut by a cancel or the deadline: say that, not "failed"
                raise ConnectionLost(
                    f"{what}: transfer from {netloc} failed ({exc.__class__.__name__}); retry later."
                ) from None

        return self._retrying(once)

    @staticmethod
    def _save(
        resp: httpx.Response, dest: os.PathLike, what: str, max_bytes: int | None, limit: str, scope: CallScope | None
    ) -> int:
        declared = resp.headers.get("content-length", "")
        if (
            max_bytes is not None
            and declared.isdigit()
            and int(declared) > max_bytes
            and "content-encoding" not in resp.headers
        ):
            raise too_big(what, max_bytes, limit)
        size = 0
        with open(dest, "wb") as fh:
            for chunk in resp.iter_bytes(1 << 16):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise too_big(what, max_bytes, limit)
                fh.write(chunk)
                if scope:
                    scope.check(what)
        if scope:
            scope.check(what)  # a body without a length just ends when a cancel cuts it
        return size

    def _retrying(self, once: Callable[[], T]) -> T:
        """The one retry loop: `once` raises _Retry for what may be tried again (after backoff, or the
        server's Retry-After), anything else ends it; the last attempt's error is the one raised."""
        for attempt in range(self.retry.attempts):
            try:
                return once()
            except _Retry as retry:
                if attempt == self.retry.attempts - 1:
                    raise retry.error from None
                self._sleep(attempt, retry.retry_after)
        raise AssertionError("unreachable: attempts >= 1")

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if attempt < self.retry.attempts - 1:
            delay = self.retry.delay(attempt, retry_after)
            scope = current_scope()
            left = scope.remaining() if scope else None
            time.sleep(delay if left is None else max(min(delay, left), 0.0))
