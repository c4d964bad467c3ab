"""Space references: `owner/name`, a huggingface.co Space page URL, `https://owner-name.hf.space`,
or any Gradio base URL."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from .errors import InvalidReference

__all__ = ["SpaceRef", "parse_ref", "split_url", "subdomain_host"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$")


def _id_problem(s: str) -> str | None:
    """The Hub's own rules for repo ids, checked here so a bad id is one line, not the Hub client's error."""
    if "--" in s or ".." in s:
        return "'--' and '..' are not allowed in a Space id"
    if any(part[-1] in ".-" or part.endswith(".git") for part in s.split("/")):
        return "a Space id part cannot end with '.', '-' or '.git'"
    return None


def split_url(text: str, what: str = "URL") -> SplitResult:
    """`text` split as an http(s) URL with a host and port an HTTP client can use; InvalidReference otherwise."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parses the port, raising ValueError for 'abc' or 99999
    except ValueError as exc:
        raise InvalidReference(f"'{text}' is not a valid {what} ({exc}); write http(s)://host[:port]/path.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidReference(f"'{text}' is not an http(s) {what}: write http(s)://host[:port]/path.")
    host = parts.hostname
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise InvalidReference(f"'{text}' has a bad IPv6 address; write http://[::1]:PORT/.") from None
    elif not _HOSTNAME.match(host):
        raise InvalidReference(
            f"'{text}' has a host name with characters no DNS name has; for a non-ASCII "
            "name write its xn-- (punycode) form."
        )
    if parts.port == 0 or not all(c.isprintable() and not c.isspace() for c in text):
        raise InvalidReference(f"'{text}' is not a usable {what} (port 0, spaces or control characters).")
    return parts


@dataclass(frozen=True)
class SpaceRef:
    """Either a Hub Space id (resolved through the Hub) or a direct base URL (no Hub involved)."""

    space_id: str | None = None
    base_url: str | None = None

    @property
    def label(self) -> str:
        return self.space_id or self.base_url or "?"


def parse_ref(text: str) -> SpaceRef:
    s = (text or "").strip()
    if not s:
        raise InvalidReference("Empty Space reference: give owner/name or a URL such as https://owner-name.hf.space.")
    if "://" not in s:
        if _REPO_ID.match(s):
            problem = _id_problem(s)
            if not problem:
                return SpaceRef(space_id=s)
            raise InvalidReference(f"'{s}' is not a Space id: {problem}; copy the id from the Space's Hub page.")
        raise InvalidReference(
            f"'{s}' is not a Space reference: use owner/name, "
            "https://huggingface.co/spaces/owner/name or a Gradio app URL."
        )
    parts = split_url(s, "Space URL")
    segs = [p for p in parts.path.split("/") if p]
    if parts.hostname in ("huggingface.co", "hf.co", "www.huggingface.co"):
        if len(segs) >= 3 and segs[0] == "spaces":
            return parse_ref(f"{segs[1]}/{segs[2]}")  # the same id rules as owner/name
        raise InvalidReference(f"'{s}' is not a Space page: expected https://huggingface.co/spaces/owner/name.")
    if (parts.hostname or "").endswith(".hf.space"):
        # The subdomain alone can't be inverted reliably ('-' is both separator and legal in names),
        # so keep the URL; the Hub is asked for the id later when a token-bearing request needs it.
        return SpaceRef(base_url=f"{parts.scheme}://{parts.netloc}")
    # A direct Gradio URL; strip a trailing /gradio_api/... or / so the base is canonical.
    path = parts.path
    for marker in ("/gradio_api", "/config", "/info"):
        if marker in path:
            path = path[: path.index(marker)]
    return SpaceRef(base_url=f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}")


def subdomain_host(space_id: str) -> str:
    """The usual *.hf.space host of a Space (used only when the Hub gives none)."""
    sub = re.sub(r"[^a-z0-9]+", "-", space_id.lower()).strip("-")
    return f"https://{sub}.hf.space"
