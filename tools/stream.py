"""Reading a call's result stream: server-sent events with capped lines, their JSON, and what an
`error` event means (a hidden error, a quota, a GPU that was not free)."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import httpx

from .errors import (
    BadAnswer,
    ConnectionLost,
    GpuUnavailable,
    QuotaExceeded,
    SpacechainError,
    SpaceError,
    TooLarge,
    UnsendableResult,
)
from .http import MAX_DEPTH, too_deep

__all__ = ["HIDDEN_ERROR", "iter_sse", "quota_error", "space_error"]

HIDDEN_ERROR = (
    "the Space raised an error but hid its message (show_error=False); check the inputs "
    "against its API, or try another Space"
)


_QUOTA_TEXT = re.compile(r"exceeded your .*quota|GPU quota|ZeroGPU", re.I)
_REQ_LEFT = re.compile(r"\((\d+(?:\.\d+)?)s requested vs\.? (\d+(?:\.\d+)?)s left\)")
_RETRY_IN = re.compile(r"(?:try again|retry) in (\d+):(\d\d):(\d\d)", re.I)
_TAGS = re.compile(r"<[^>]+>")
# What Python's json says of a value it cannot encode: gradio's /call stream sends it as the error.
_UNSENDABLE = re.compile(r"Object of type \w+ is not JSON serializable")
_NO_GPU = re.compile(r"No GPU was available|No GPU is available|Expired ZeroGPU proxy token", re.I)


def space_error(data: Any, space: str) -> SpacechainError:
    """Interpret the `data` of an `error` event: null, a transport string, or gradio's error dict."""
    if data is None:
        return SpaceError(f"{space}: {HIDDEN_ERROR}.", hidden=True)
    if isinstance(data, str):
        if data.startswith("404"):
            return ConnectionLost(
                f"{space}: the server no longer knows this job (404); it was read before or cancelled: submit it again."
            )
        if _UNSENDABLE.search(data):
            return UnsendableResult(
                f"{space} ran the call but could not send its result ({data.strip()[:160]}): the app returns a "
                "value its API cannot encode; use another endpoint or Space."
            )
        return ConnectionLost(f"{space}: {data.strip() or 'the server stopped the job'}; retry later.")
    if isinstance(data, dict):
        msg, title = data.get("error"), data.get("title")
        if msg is None:
            return SpaceError(f"{space}: {HIDDEN_ERROR}.", title=title, hidden=True)
        text = _TAGS.sub("", str(msg)).strip()
        if _NO_GPU.search(text):
            return GpuUnavailable(
                f"{space}: no ZeroGPU GPU was free in time ({text[:160]}); this is not your "
                "quota: retry in a minute or use another Space.",
                title=title,
            )
        if (title and "zerogpu" in title.lower() and "quota" in title.lower()) or _QUOTA_TEXT.search(text):
            return quota_error(text, title, space)
        label = f" ({title})" if title and title != "Error" else ""
        return SpaceError(f"{space} failed{label}: {text}", title=title)
    return SpaceError(f"{space} failed: {json.dumps(data)[:300]}")


def quota_error(text: str, title: str | None, space: str) -> QuotaExceeded:
    m = _REQ_LEFT.search(text)
    req, left = (float(m.group(1)), float(m.group(2))) if m else (None, None)
    r = _RETRY_IN.search(text)
    retry = int(r.group(1)) * 3600 + int(r.group(2)) * 60 + int(r.group(3)) if r else None
    parts = [f"{space}: ZeroGPU quota exceeded"]
    if req is not None:
        parts.append(f"({req:g}s requested vs {left:g}s left)")
    when = f"retry in {retry} s" if retry is not None else "retry later"
    text = " ".join(parts) + f"; {when} or use another Space (log in with an HF token for more quota)."
    return QuotaExceeded(text, title=title, requested_s=req, left_s=left, retry_after_s=retry)


def _parse(text: str) -> Any:
    if text in ("", None):
        return None
    try:
        value = json.loads(text)
        deep = too_deep(value)
    except json.JSONDecodeError:
        return text
    except RecursionError:
        deep = True
    if deep:
        raise BadAnswer(
            f"The result stream sent an event nested more than {MAX_DEPTH} levels deep, more than a "
            "result may; pick another Space."
        )
    return value


_EOL = re.compile(rb"\r\n|\r|\n")


def iter_sse(resp: httpx.Response, cap: int, what: str) -> Iterator[tuple[str, str]]:
    """(event, data) of each server-sent event, with no line and no event over `cap` bytes: a server
    sending one endless line must not fill memory (httpx-sse buffers a line whole, with no limit)."""
    buf = bytearray()
    seen = 0  # bytes at the start of buf known to hold no line end: a long line is searched once
    data: list[str] = []
    event, size = "", 0
    for chunk in resp.iter_bytes():
        buf += chunk
        start = 0
        while True:
            m = _EOL.search(buf, max(start, seen))
            # A trailing CR may be the first half of CRLF: wait for the next chunk to know.
            if m is None or (m.group() == b"\r" and m.end() == len(buf)):
                break
            line = bytes(buf[start : m.start()]).decode("utf-8", "replace")
            start = m.end()
            if not line:
                if data or event:
                    yield event or "message", "\n".join(data)
                event, data, size = "", [], 0
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
                size += len(value) + 1
                if size > cap:
                    raise TooLarge(
                        f"{what}: one event is over {cap} bytes, more than a result may hold; pick another Space."
                    )
        del buf[:start]
        seen = max(len(buf) - 1, 0)  # a trailing CR is looked at again
        if len(buf) > cap:
            raise TooLarge(
                f"{what}: one line of the result stream is over {cap} bytes, more than a result may "
                "hold; pick another Space."
            )
