"""Where requests may go and what they carry: the HF token only to the Hub and the Space hosts it names,
no request into the local network unless the user or the Hub named that origin, connections made to the
address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore._backends.sync import SyncStream  # the stream httpcore's own backend returns

from .errors import (
    UnsafeURL,
)

__all__ = ["ALLOW_PRIVATE_ENV", "TokenPolicy"]

ALLOW_PRIVATE_ENV = "SPACECHAIN_ALLOW_PRIVATE_URLS"


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
