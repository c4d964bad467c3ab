"""The one HTTP client: token policy, bounded retries with backoff and jitter, status → error mapping."""

from __future__ import annotations

import contextvars
import ipaddress
import json
import os
import random
import re
import socket
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore._backends.sync import SyncStream  # the stream httpcore's own backend returns

from spacechain import __version__

from .errors import (
    AuthError,
    CallTimeout,
    Cancelled,
    ConnectionLost,
    HTTPError,
    InvalidInputs,
    QueueFull,
    RateLimited,
    SpacechainError,
    TooLarge,
    UnsafeURL,
    UploadRefused,
)

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "CallScope",
    "DEFAULT_ENDPOINT",
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

DEFAULT_ENDPOINT = "https://huggingface.co"
ALLOW_PRIVATE_ENV = "SPACECHAIN_ALLOW_PRIVATE_URLS"
USER_AGENT = f"spacechain/{__version__}"


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


def hub_endpoint() -> str:
    """HF_ENDPOINT read at call time (huggingface_hub freezes it at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def find_token() -> str | None:
    from huggingface_hub import get_token  # deferred: importing huggingface_hub costs ~0.2 s

    return get_token()


def _origin(url: str) -> str:
    p = urlsplit(url)
    port = p.port or (443 if p.scheme == "https" else 80)
    return f"{p.scheme}://{(p.hostname or '').lower()}:{port}"


def _is_public(address: str, literal_only: bool = False) -> bool:
    """A global unicast address. With `literal_only`, a name (not an IP literal) counts as public."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return literal_only
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


class _CheckedBackend(httpcore.SyncBackend):
    """Resolves a host once, checks every address it got, and connects to one of those addresses: a
    name cannot answer a public address to the check and a private one to the connect (rebinding), and
    a name that does not resolve is an error, not a pass. TLS still verifies the certificate against
    the host name (httpcore passes it as server_hostname), and the Host header stays the name."""

    def __init__(self, policy: TokenPolicy):
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc})") from None
        self.policy.check_addresses(host, port, [str(info[4][0]) for info in infos])
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                if local_address:
                    sock.bind((local_address, 0))
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect(address)  # the checked address itself: no second lookup
                return SyncStream(sock)
            except TimeoutError:
                sock.close()
                error = httpcore.ConnectTimeout(f"connecting to {host} timed out")
            except OSError as exc:
                sock.close()
                error = httpcore.ConnectError(str(exc))
        raise error


class TokenPolicy:
    """Adds the HF token only to the Hub and to the Space hosts the Hub named.

    Everything else — file URLs given as inputs, URLs found in outputs, user-given app URLs — gets
    no token. The Hub gets `Authorization`; Space hosts get `X-HF-Authorization`, which the Spaces
    proxy strips before the request reaches the Space's own code."""

    def __init__(self, token: str | None, hub: str, allow_private: bool = False):
        self.token = token
        self.hub_origin = _origin(hub)
        self._space_origins: set[str] = set()
        # Origins the user or the Hub pointed us at (Space hosts, direct app URLs): file fetches from
        # them are expected even on a private network. Any other host a URL input, an output or a
        # redirect leads to must be public, unless the user allows private addresses.
        self._known: set[str] = {self.hub_origin}
        self.allow_private = allow_private

    def trust_space_host(self, url: str) -> None:
        self._space_origins.add(_origin(url))
        self._known.add(_origin(url))

    def know(self, url: str) -> None:
        self._known.add(_origin(url))

    def known_host(self, host: str, port: int) -> bool:
        return any(o.endswith(f"://{host.lower()}:{port}") for o in self._known)

    def check_fetch(self, url: str) -> None:
        """Refuse a request to a private, loopback or link-local address the user never named, when
        the URL says so itself (an IP literal, localhost): a Space must not make us read the local
        network (cloud metadata, intranet). Names are checked where they are resolved, once, just
        before connecting (`check_addresses`): checking here would resolve them a second time."""
        if self.allow_private or _origin(url) in self._known:
            return
        host = (urlsplit(url).hostname or "").lower()
        if host == "localhost" or host.endswith(".localhost") or not _is_public(host, literal_only=True):
            raise UnsafeURL(
                f"Refused to fetch {url[:200]}: {host} is a private or local address; set "
                f"{ALLOW_PRIVATE_ENV}=1 to allow URLs on your own network."
            )

    def check_addresses(self, host: str, port: int, addresses: Iterable[str]) -> None:
        """Every address a name resolved to must be public, unless the user or the Hub named the host."""
        if self.allow_private or self.known_host(host, port):
            return
        for address in addresses:
            if not _is_public(address):
                raise UnsafeURL(
                    f"Refused to connect to {host}:{port}: it resolves to {address}, a private or "
                    f"local address; set {ALLOW_PRIVATE_ENV}=1 to allow URLs on your own network."
                )

    def header_for(self, url: str) -> dict[str, str]:
        if not self.token:
            return {}
        origin = _origin(url)
        if origin == self.hub_origin:
            return {"Authorization": f"Bearer {self.token}"}
        if origin in self._space_origins:
            return {"X-HF-Authorization": f"Bearer {self.token}"}
        return {}

    def __call__(self, request: httpx.Request) -> None:
        # A request event hook, not an httpx.Auth: httpx runs hooks on every redirect hop, so a
        # Space redirecting to a third-party host never carries the token there. Requests marked
        # `no_token` (URLs from inputs or outputs) keep that mark on every hop.
        request.headers.pop("Authorization", None)
        request.headers.pop("X-HF-Authorization", None)
        url = str(request.url)
        # The first hop's origin travels with the redirects (httpx passes the extensions on): the
        # token goes only to hops on that same origin, so a Space redirecting to the Hub gets nothing.
        first = request.extensions.setdefault("spacechain_origin", _origin(url))
        self.check_fetch(url)  # every hop of every request; names are checked at connect
        if not request.extensions.get("no_token") and _origin(url) == first:
            request.headers.update(self.header_for(url))


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0

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

    def close(self) -> None:
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
        last: SpacechainError | None = None
        netloc = urlsplit(url).netloc
        for attempt in range(self.retry.attempts):
            try:
                resp = self.client.send(self.client.build_request(method, url, **kwargs), stream=True)
                try:
                    good = ok(resp) if ok else resp.is_success
                    cap = (max_bytes or self.limits.max_json_bytes) if good else self.limits.max_error_bytes
                    read_capped(resp, cap, what, truncate=not good, deadline=time.monotonic() + self.limits.read_s)
                finally:
                    resp.close()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = ConnectionLost(
                    f"{what}: cannot connect to {netloc} ({exc.__class__.__name__}); "
                    "check the URL or your network, or retry later."
                )
                if not resend_after_connect:
                    raise last from None
                self._sleep(attempt, None)
                continue
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
            last = error_for(resp, what)
            if resp.status_code not in retry_on or attempt == self.retry.attempts - 1:
                raise last
            self._sleep(attempt, _retry_after(resp))
        assert last is not None
        raise last

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
        for attempt in range(self.retry.attempts):
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
                        err = error_for(resp, what)
                        if resp.status_code in (429, 502, 503, 504) and attempt < self.retry.attempts - 1:
                            self._sleep(attempt, _retry_after(resp))
                            continue
                        raise err
                    declared = resp.headers.get("content-length", "")
                    if (
                        max_bytes is not None
                        and declared.isdigit()
                        and int(declared) > max_bytes
                        and "content-encoding" not in resp.headers
                    ):
                        raise _too_big(what, max_bytes, limit)
                    size = 0
                    with open(dest, "wb") as fh:
                        for chunk in resp.iter_bytes(1 << 16):
                            size += len(chunk)
                            if max_bytes is not None and size > max_bytes:
                                raise _too_big(what, max_bytes, limit)
                            fh.write(chunk)
                            if scope:
                                scope.check(what)
                    if scope:
                        scope.check(what)  # a body without a length just ends when a cancel cuts it
                    return size
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if scope:
                    scope.check(what)
                if attempt == self.retry.attempts - 1:
                    raise ConnectionLost(f"{what}: cannot connect to {netloc}; retry later.") from None
                self._sleep(attempt, None)
            except (httpx.TransportError, httpx.StreamError, httpx.TooManyRedirects) as exc:
                if scope:
                    scope.check(what)  # cut by a cancel or the deadline: say that, not "failed"
                raise ConnectionLost(
                    f"{what}: transfer from {netloc} failed ({exc.__class__.__name__}); retry later."
                ) from None
        raise ConnectionLost(f"{what}: no answer from {netloc}; retry later.")

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if attempt < self.retry.attempts - 1:
            delay = self.retry.delay(attempt, retry_after)
            scope = current_scope()
            left = scope.remaining() if scope else None
            time.sleep(delay if left is None else max(min(delay, left), 0.0))


def _too_big(what: str, cap: int, limit: str) -> TooLarge:
    return TooLarge(f"{what}: stopped at {cap} bytes, {limit}; raise it if such a file is expected.")
