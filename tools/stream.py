"""Reading a call's result stream: server-sent events with capped lines, their JSON, what an `error`
event means (a hidden error, a quota, a GPU that was not free, a result the app could not encode), and
gradio's queue stream told in the same events."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Iterable, Iterator

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

__all__ = ["HIDDEN_ERROR", "apply_diff", "iter_sse", "queue_events", "quota_error", "space_error", "unsendable"]

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
# A gr.Error whose message is gradio i18n text, as the queue route sends it: shown as its key.
_I18N = re.compile(r"__i18n__(\{[^{}]*\})")
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
            return unsendable(space, data)
        return ConnectionLost(f"{space}: {data.strip() or 'the server stopped the job'}; retry later.")
    if isinstance(data, dict):
        msg, title = data.get("error"), data.get("title")
        if msg is None:
            return SpaceError(f"{space}: {HIDDEN_ERROR}.", title=title, hidden=True)
        text = _TAGS.sub("", _I18N.sub(_i18n_key, str(msg))).strip()
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


def _i18n_key(m: re.Match) -> str:
    try:
        key = json.loads(m.group(1)).get("key")
    except (ValueError, AttributeError):
        return m.group(0)
    return key if isinstance(key, str) else m.group(0)


def unsendable(space: str, detail: str, stateful: bool = False) -> UnsendableResult:
    """A result gradio's `/call` route could not encode (`detail`: what Python's json said of it)."""
    what = f"{space} ran the call but could not send its result ({detail.strip()[:160]})"
    if stateful:
        return UnsendableResult(
            f"{what}; it uses the session's gr.State, so it was not run again (a second run could change it "
            "twice): call it again, its next calls go by gradio's queue route, which can send the result.",
            detail,
        )
    return UnsendableResult(
        f"{what}: the app returns a value its API cannot encode; use another endpoint or Space.", detail
    )


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


def queue_events(messages: Iterable[tuple[str, str]], event_id: str) -> Iterator[tuple[str, Any]]:
    """gradio's queue stream (`/queue/data`: one JSON message per event, for every job of the session;
    a generator's outputs as diffs after the first) told as the `/call` stream's events, with the queue's
    own two: `estimation` (the message: rank, queue size, ETA) and `started`. Ends after the job's end."""
    latest: list | None = None
    for _, text in messages:
        msg = _parse(text)
        if not isinstance(msg, dict) or msg.get("event_id") not in (None, event_id):
            continue  # another job of the session, or no message at all
        kind = msg.get("msg")
        raw = msg.get("output")
        output: dict = raw if isinstance(raw, dict) else {}
        if kind == "heartbeat":
            yield "heartbeat", None
        elif kind == "estimation":
            yield "estimation", msg
        elif kind == "process_starts":
            yield "started", msg
        elif kind == "process_generating" and msg.get("success", True):
            data = output.get("data")
            data = data if isinstance(data, list) else [data]
            if latest is None:
                latest = data
            else:
                latest = latest + [None] * (len(data) - len(latest))
                latest = [apply_diff(old, diff) for old, diff in zip(latest, data)] + latest[len(data) :]
            yield "generating", latest
        elif kind in ("process_completed", "process_generating"):
            yield ("complete", output.get("data")) if msg.get("success") else ("error", output)
            return
        elif kind in ("unexpected_error", "server_stopped"):
            yield "error", str(msg.get("message") or "Server stopped unexpectedly.")
            return
        elif kind == "close_stream":
            return


def apply_diff(value: Any, diff: Any) -> Any:
    """A copy of `value` changed by a gradio output diff: a list of [action, path, new] edits (replace,
    append, add, delete), the path a list of keys and indexes from the top."""
    value = copy.deepcopy(value)
    try:
        for action, path, new in diff:
            if not path:
                value = new if action == "replace" else value + new
                continue
            node = value
            for key in path[:-1]:
                node = node[key]
            key = path[-1]
            if action == "replace":
                node[key] = new
            elif action == "append":
                node[key] += new
            elif action == "add" and isinstance(node, list):
                node.insert(int(key), new)
            elif action == "add":
                node[key] = new
            elif action == "delete":
                del node[key]
            else:
                raise ValueError(action)
    except (KeyError, IndexError, TypeError, ValueError):
        raise BadAnswer(
            "The queue stream sent an output change that does not fit the output; retry, or pick another Space."
        ) from None
    return value
