"""Space references: `owner/name`, a huggingface.co Space page URL, `https://owner-name.hf.space`,
or any Gradio base URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import InvalidReference

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


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
            return SpaceRef(space_id=s)
        raise InvalidReference(f"'{s}' is not a Space reference: use owner/name, "
                               "https://huggingface.co/spaces/owner/name or a Gradio app URL.")
    parts = urlsplit(s)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidReference(f"'{s}' is not an http(s) URL: use owner/name or a Gradio app URL.")
    segs = [p for p in parts.path.split("/") if p]
    if parts.hostname in ("huggingface.co", "hf.co", "www.huggingface.co"):
        if len(segs) >= 3 and segs[0] == "spaces":
            return SpaceRef(space_id=f"{segs[1]}/{segs[2]}")
        raise InvalidReference(f"'{s}' is not a Space page: expected https://huggingface.co/spaces/owner/name.")
    if parts.hostname.endswith(".hf.space"):
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
