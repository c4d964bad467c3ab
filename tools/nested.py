"""Nested values — inputs, outputs, cache entries, manifests — walked one way: `transform` rebuilds,
`leaves` reads; and what a Gradio file reference looks like inside them."""

from __future__ import annotations

from typing import Any, Callable, Iterator

__all__ = ["FILE_META", "KEEP", "is_filedata", "is_url", "leaves", "transform", "transform_at"]

FILE_META = {"_type": "gradio.FileData"}


def transform(value: Any, visit: Callable[[Any], Any]) -> Any:
    """Rebuild a nested value (dicts, lists, tuples as lists). `visit` sees every node first and
    returns its replacement, or KEEP to have the node's children visited (a leaf is kept as is)."""
    return transform_at(value, lambda node, at: visit(node))


def transform_at(value: Any, visit: Callable[[Any, tuple], Any], at: tuple = ()) -> Any:
    """`transform` whose `visit` also gets each node's position (keys and indexes from the top)."""
    new = visit(value, at)
    if new is not KEEP:
        return new
    if isinstance(value, dict):
        return {k: transform_at(v, visit, (*at, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [transform_at(v, visit, (*at, i)) for i, v in enumerate(value)]
    return value


KEEP = object()


def leaves(value: Any, at: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every leaf of a nested value (dicts, lists, tuples) with its position, in order."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*at, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from leaves(v, (*at, i))
    else:
        yield at, value


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def is_filedata(value: Any) -> bool:
    if not isinstance(value, dict) or "path" not in value:
        return False
    meta = value.get("meta")
    if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData":
        return True
    return any(k in value for k in ("url", "orig_name", "mime_type", "is_stream"))
