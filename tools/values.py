"""Checking and converting a value for the parameter it is given to: before any submission (a wrong
value otherwise queues for GPU time and fails with a hidden error), and from command-line text."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping

from .errors import InvalidInputs
from .kinds import describe, kind_of_name, media_of, sniff
from .schema import _MEDIA, Param, _media_name, _simplify

__all__ = ["check_value", "coerce_text"]

_NUMBER_TYPES = ("float", "int")
_TEXTLIKE = ("text", "html", "json")


def _a(noun: str) -> str:
    """'an image file', 'a file'."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def check_value(
    ep_name: str, p: Param, value: Any, custom_ok: bool = False, flagged: Mapping[str, str] | None = None
) -> Any:
    """`value` as parameter `p` takes it (numbers from numeric text, a choice matched by its text), or
    InvalidInputs in one line naming the parameter, what it expects and what it got. Checked before any
    submission: a wrong value otherwise queues for GPU time and fails with a hidden error. `flagged`: the
    outputs whose bytes contradicted their component (resolved path → what they are, and who made them)."""
    if value is None:
        return None

    def bad(expects: str) -> InvalidInputs:
        got = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return InvalidInputs(f"{ep_name}: {p.name} expects {expects}; got {got} ({type(value).__name__}).")

    if p.takes_files:
        _check_files(ep_name, p, value, bad, flagged or {})
        return value
    choices = p.choices
    if choices is not None:
        by_text = {str(c): c for c in choices}
        listed = ", ".join(json.dumps(c) for c in choices[:12]) + (", ..." if len(choices) > 12 else "")
        if p.is_list:
            items = value if isinstance(value, (list, tuple)) else [value]
            wrong = [v for v in items if v not in choices and str(v) not in by_text]
            if wrong and not custom_ok:
                raise bad(f"items from {listed}")
            return [v if v in choices else by_text.get(str(v), v) for v in items]
        if value in choices and not isinstance(value, bool):
            return value
        if str(value) in by_text:
            return by_text[str(value)]
        if custom_ok and isinstance(value, str):
            return value
        raise bad(f"one of {listed}")
    kind = p.python_type if p.python_type in _NUMBER_TYPES + ("bool", "str") else _json_kind(p.json_type)
    if kind in _NUMBER_TYPES:
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise bad("an integer" if kind == "int" else "a number") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise bad("an integer" if kind == "int" else "a number")
        if kind == "int":
            if isinstance(number, float) and not number.is_integer():
                raise bad("an integer")
            return int(number)
        return number if isinstance(value, (int, float)) else float(number)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        low = str(value).strip().lower() if isinstance(value, (str, int)) else ""
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise bad("true or false")
    if kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad("text")
    if p.is_list and not isinstance(value, (list, tuple)):
        raise bad(f"a list ({_simplify(p.python_type) or 'list'})")
    return value


def _json_kind(json_type: dict) -> str:
    return {"number": "float", "integer": "int", "boolean": "bool", "string": "str"}.get(str(json_type.get("type")), "")


def _check_files(
    ep_name: str, p: Param, value: Any, bad: Callable[[str], InvalidInputs], flagged: Mapping[str, str]
) -> None:
    """File references of the right media: an image input given an .mp3 or a text file is refused, saying
    what the file is by its bytes (and which Space returned it, for a flagged output)."""
    media = _MEDIA.get(p.component) or None
    if p.file_shape == "single":
        refs = [value]
    elif p.file_shape in ("list", "gallery"):
        refs = list(value) if isinstance(value, (list, tuple)) else [value]
    else:
        return  # files somewhere inside a structure: shaped (and checked for existence) later
    for ref in refs:
        if p.file_shape == "gallery" and isinstance(ref, dict) and ("image" in ref or "video" in ref):
            ref = ref.get("image") or ref.get("video")
        elif p.file_shape == "gallery" and isinstance(ref, (list, tuple)) and len(ref) == 2:
            ref = ref[0]
        name = ref.get("orig_name") or ref.get("path") if isinstance(ref, dict) else ref
        if isinstance(ref, os.PathLike):
            name = os.fspath(ref)
        if not isinstance(name, str) or not name:
            raise bad(f"{_a(_media_name(p.component))} (a local path, a URL or {{'path': ...}})")
        if media is None:
            continue
        local = ref.get("path") if isinstance(ref, dict) else name  # the file, not the name it had
        found, sniffed = _kind_of(local if isinstance(local, str) and local else name)
        family = media_of(found)
        if family is None or family == media or (media == "audio" and family == "video"):
            continue
        expects = _a(f"{media} file")
        if sniffed is None:
            raise bad(expects)
        got = f"{ep_name}: {p.name} expects {expects}; got"
        why = flagged.get(os.path.realpath(sniffed))
        if why:
            raise InvalidInputs(
                f"{got} {why} ({os.path.basename(sniffed)}); call that endpoint again or use another Space for it."
            )
        raise InvalidInputs(f"{got} {describe(found or '')} ({os.path.basename(sniffed)}).")


def _kind_of(ref: str) -> tuple[str | None, str | None]:
    """What a file reference is, and the local file whose bytes told it (None when only its name did)."""
    path = os.path.expanduser(ref)
    if not ref.startswith(("http://", "https://")) and os.path.isfile(path):
        try:
            found = sniff(path)
        except OSError:
            return kind_of_name(ref), None
        if found != "unknown":
            return found, path
    return kind_of_name(ref), None


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def coerce_text(param: Param, text: str) -> Any:
    """Convert a command-line string to the value the parameter's schema asks for."""
    t = param.python_type
    choices = param.choices
    if param.takes_files and param.file_shape == "single":
        return text
    if choices is not None and not param.is_list:
        for c in choices:
            if str(c) == text:
                return c
        raise InvalidInputs(f"{param.name} must be one of {', '.join(map(str, choices))}; got {text!r}.")
    if param.component in ("Json", "Dataframe"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text  # a bare word is a valid JSON string for the user's intent
    try:
        if t == "str" or "str" in t.split(" | "):
            return text
        if t == "int":
            return int(text)
        if t == "float":
            return float(text)
        if t == "bool":
            low = text.strip().lower()
            if low in _TRUE | _FALSE:
                return low in _TRUE
            raise ValueError
    except ValueError:
        raise InvalidInputs(f"{param.name} expects {t}; got {text!r}.") from None
    if param.is_list or t.startswith(("dict", "list", "tuple")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            if not (param.takes_files or param.is_list):
                raise InvalidInputs(f"{param.name} expects JSON ({_simplify(t)}); got {text!r}.") from None
            value = [s for s in text.split(",") if s]  # a comma list of paths or plain words
        if choices is not None and isinstance(value, list):
            # A multi-choice (CheckboxGroup, multiselect Dropdown): each item must be a choice.
            by_text = {str(c): c for c in choices}
            bad = [v for v in value if v not in choices and str(v) not in by_text]
            if bad:
                raise InvalidInputs(
                    f"{param.name} takes items from {', '.join(map(str, choices))}; got {', '.join(map(str, bad))}."
                )
            value = [v if v in choices else by_text[str(v)] for v in value]
        return value
    # Unions and unknown types: JSON when it parses, else the text.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
