"""The Hub's agents.md contract for a Space, parsed into a typed object.

The Hub has published several shapes of this file (four lines in April 2026; five lines with
`File inputs:` and a `/call/v2/` named-body hint since June 2026). Parsing keys on line prefixes,
so reordered or extra lines are tolerated.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from .errors import NotGradioSpace

__all__ = ["Contract", "contract_from_host", "parse_agents_md"]


@dataclass(frozen=True)
class Contract:
    space: str
    title: str
    host: str  # scheme://host[:port][/root] of the Gradio app, no trailing slash
    schema_url: str
    call_url: str  # template with {endpoint}
    poll_url: str  # template with {endpoint} and {event_id}
    upload_url: str
    auth: str
    body_hint: str  # the JSON body sketch the Hub printed after the call URL
    named_inputs: bool  # True when the Hub advertises /call/v2 with {"param": value}
    text: str
    source: str = "agents.md"  # or "space-info" when agents.md was missing

    def to_dict(self) -> dict:
        return asdict(self)


_PREFIXES = {
    "api schema": "schema",
    "call endpoint": "call",
    "poll result": "poll",
    "file inputs": "files",
    "auth": "auth",
}
_URL = re.compile(r"https?://\S+")


def _split_method_url(value: str) -> tuple[str, str]:
    m = _URL.search(value)
    if not m:
        return "", value.strip()
    return m.group(0), value[m.end() :].strip()


def parse_agents_md(text: str, space: str) -> Contract:
    """Parse agents.md text. Raises NotGradioSpace when it has no API schema line."""
    title = ""
    fields: dict[str, str] = {}
    # Lines end at \n only: splitlines() also splits at U+2028, \x85, \x0b, \x0c, \r…, so a Space title
    # (its short description, which the Space's author writes) could start a line of its own and set a field.
    for raw in text.split("\n"):
        line = raw.strip().lstrip("-*> ").strip()
        if not line:
            continue
        low = line.lower()
        if low.startswith("to use this application"):
            inner = line[line.find("(") + 1 : line.rfind(")")] if "(" in line else line
            # "(owner/name: short description)"; the description may itself contain ": ".
            title = inner.split(": ", 1)[1] if ": " in inner else inner
            title = " ".join(title.split())  # one line, whatever separators it held
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in _PREFIXES:
            fields[_PREFIXES[key.strip().lower()]] = value.strip()
    schema_url, _ = _split_method_url(fields.get("schema", ""))
    if not schema_url:
        raise NotGradioSpace(f"agents.md of {space} has no 'API schema' line, so it is not a Gradio API Space.")
    host = _host_from_schema(schema_url)
    call_url, body_hint = _split_method_url(fields.get("call", ""))
    poll_url, _ = _split_method_url(fields.get("poll", ""))
    upload_url, _ = _split_method_url(fields.get("files", ""))
    return Contract(
        space=space,
        title=title,
        host=host,
        schema_url=schema_url,
        call_url=call_url or f"{host}/gradio_api/call/{{endpoint}}",
        poll_url=poll_url or f"{host}/gradio_api/call/{{endpoint}}/{{event_id}}",
        upload_url=upload_url.rstrip(",;") or f"{host}/gradio_api/upload",
        auth=fields.get("auth", "Bearer $HF_TOKEN"),
        body_hint=body_hint,
        named_inputs="/call/v2/" in call_url or (body_hint.startswith("{") and '"data"' not in body_hint),
        text=text,
    )


def _host_from_schema(url: str) -> str:
    for suffix in ("/gradio_api/info", "/info"):
        if url.split("?", 1)[0].endswith(suffix):
            return url.split("?", 1)[0][: -len(suffix)].rstrip("/")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def contract_from_host(space: str, host: str, title: str = "", api: str = "/gradio_api") -> Contract:
    """A contract built from a host alone: for Spaces without agents.md, or direct URLs. `api` is the
    API's path prefix (gradio 4.x serves it at the root: "")."""
    host = host.rstrip("/")
    root = f"{host}{api}"
    return Contract(
        space=space,
        title=title,
        host=host,
        schema_url=f"{root}/info",
        call_url=f"{root}/call/{{endpoint}}",
        poll_url=f"{root}/call/{{endpoint}}/{{event_id}}",
        upload_url=f"{root}/upload",
        auth="Bearer $HF_TOKEN",
        body_hint='{"data": [...]}',
        named_inputs=False,
        text="",
        source="space-info" if "/" in space and "://" not in space else "url",
    )
