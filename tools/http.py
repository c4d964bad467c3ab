"""The one HTTP client: token policy, bounded retries with backoff and jitter, status → error mapping."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import socket
import time
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlsplit

import httpx

from .errors import (
    AuthError,
    CallTimeout,
    ConnectionLost,
    HTTPError,
    InvalidInputs,
    QueueFull,
    RateLimited,
    SpacechainError,
    UnsafeURL,
    UploadRefused,
)

DEFAULT_ENDPOINT = "https://huggingface.co"
ALLOW_PRIVATE_ENV = "SPACECHAIN_ALLOW_PRIVATE_URLS"
USER_AGENT = "spacechain/0.1"


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

    def check_fetch(self, url: str) -> None:
        """Refuse a file fetch to a private, loopback or link-local address the user never named:
        a Space must not make us read the local network (cloud metadata, intranet) for it."""
        if self.allow_private or _origin(url) in self._known:
            return
        host = urlsplit(url).hostname or ""
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError):
            return  # unresolvable: the request itself will fail with a clear error
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global:
                raise UnsafeURL(f"Refused to fetch {url[:200]}: {host} is a private or local address; set "
                                f"{ALLOW_PRIVATE_ENV}=1 to allow file URLs on your own network.")

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
        if request.extensions.get("fetch"):
            self.check_fetch(url)
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
        return min(self.cap_s, self.base_s * 2 ** attempt) * (0.5 + random.random() / 2)


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
        return AuthError(f"{what} was refused ({status}): this Space needs a valid HF token with access; "
                         "set HF_TOKEN or run `hf auth login`.")
    if status == 429:
        ra = _retry_after(resp)
        wait = f" after {ra:.0f} s" if ra else " later"
        return RateLimited(f"{what} was rate limited (429): retry{wait}, or log in with an HF token for "
                           "higher limits.", retry_after_s=ra)
    if status == 503 and "queue is full" in detail.lower():
        return QueueFull(f"{what}: the Space's queue is full ({detail}); retry later or pick another Space.")
    if status == 503:
        return HTTPError(f"{what}: the Space is unavailable (503), it may be waking up or restarting; "
                         "retry in a minute.", status)
    if status == 413:
        return UploadRefused(f"{what}: the file is larger than the Space accepts ({detail or '413'}).")
    if status == 422:
        return InvalidInputs(f"{what}: the Space rejected the inputs: {detail}")
    return HTTPError(f"{what} failed with HTTP {status}{': ' + detail if detail else ''}.", status)


class Http:
    """One pooled httpx client with the token policy and retries; shared by everything in `tools`."""

    def __init__(self, token: str | None = None, hub: str | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        self.hub = hub or hub_endpoint()
        self.policy = TokenPolicy(token, self.hub, allow_private=os.environ.get(ALLOW_PRIVATE_ENV) == "1")
        self.retry = retry or RetryPolicy()
        self.client = httpx.Client(
            event_hooks={"request": [self.policy]},
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=True,
            headers={"user-agent": USER_AGENT, "x-gradio-user": "api"},
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, *, what: str, retry_on: Iterable[int] = (429, 500, 502, 503, 504),
                resend_after_connect: bool = True, ok: Callable[[httpx.Response], bool] | None = None,
                **kwargs) -> httpx.Response:
        """Send with bounded retries.

        Retried: connection failures before anything was sent, and the statuses in `retry_on`.
        Callers whose request is not idempotent pass only statuses that mean "not accepted"."""
        retry_on = frozenset(retry_on)
        last: SpacechainError | None = None
        for attempt in range(self.retry.attempts):
            try:
                resp = self.client.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = ConnectionLost(f"{what}: cannot connect to {urlsplit(url).netloc} ({exc.__class__.__name__}); "
                                      "check the URL or your network, or retry later.")
                if not resend_after_connect:
                    raise last from None
                self._sleep(attempt, None)
                continue
            except httpx.TimeoutException:
                raise CallTimeout(f"{what}: no answer from {urlsplit(url).netloc} in time; retry later.") from None
            except httpx.TransportError as exc:
                raise ConnectionLost(f"{what}: connection to {urlsplit(url).netloc} lost ({exc.__class__.__name__}); "
                                     "retry later.") from None
            if (ok(resp) if ok else resp.is_success):
                return resp
            last = error_for(resp, what)
            if resp.status_code not in retry_on or attempt == self.retry.attempts - 1:
                raise last
            self._sleep(attempt, _retry_after(resp))
        assert last is not None
        raise last

    def download(self, url: str, dest: os.PathLike, *, what: str, timeout: float = 300.0, token: bool = True) -> None:
        """Stream a file to disk; retried like any idempotent GET. `token=False` never sends the token."""
        for attempt in range(self.retry.attempts):
            try:
                with self.client.stream("GET", url, timeout=httpx.Timeout(timeout, connect=10.0),
                                        extensions={"no_token": not token, "fetch": True}) as resp:
                    if not resp.is_success:
                        resp.read()
                        err = error_for(resp, what)
                        if resp.status_code in (429, 502, 503, 504) and attempt < self.retry.attempts - 1:
                            self._sleep(attempt, _retry_after(resp))
                            continue
                        raise err
                    with open(dest, "wb") as fh:
                        for chunk in resp.iter_bytes(1 << 16):
                            fh.write(chunk)
                    return
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if attempt == self.retry.attempts - 1:
                    raise ConnectionLost(f"{what}: cannot connect to {urlsplit(url).netloc}; retry later.") from None
                self._sleep(attempt, None)
            except httpx.TransportError as exc:
                raise ConnectionLost(f"{what}: transfer from {urlsplit(url).netloc} failed "
                                     f"({exc.__class__.__name__}); retry later.") from None

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if attempt < self.retry.attempts - 1:
            time.sleep(self.retry.delay(attempt, retry_after))
