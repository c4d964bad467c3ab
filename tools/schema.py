"""A typed model of `GET /gradio_api/info`, its compact one-line-per-endpoint rendering, and the
mapping of named or positional inputs onto the positional list that `/call/<endpoint>` takes."""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import BadAnswer, EndpointNotFound, InvalidInputs
from .http import MAX_DEPTH, too_deep
from .kinds import kind_of_name, media_of, sniff

__all__ = ["ApiSchema", "Endpoint", "Param", "Return", "VIDEO_EXTS", "check_value", "coerce_text"]

_MISSING = object()
_PLACEHOLDER_NAME = re.compile(r"^param_\d+$")
# Components whose single value is one file; their compact type names the media kind.
_MEDIA = {"Image": "image", "Audio": "audio", "Video": "video", "Model3d": "model3d", "File": "", "Uploadbutton": ""}
VIDEO_EXTS = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v")


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    component: str
    python_type: str
    json_type: dict
    has_default: bool
    default: Any
    description: str = ""

    @property
    def choices(self) -> list | None:
        enum = self.json_type.get("enum")
        if enum is None and isinstance(self.json_type.get("items"), dict):
            enum = self.json_type["items"].get("enum")
        if enum is not None:
            return list(enum)
        m = re.search(r"Literal\[(.*)\]", self.python_type)
        if m:
            try:
                val = ast.literal_eval(f"[{m.group(1)}]")
                return val if isinstance(val, list) else None
            except (ValueError, SyntaxError):
                return None
        return None

    @property
    def takes_files(self) -> bool:
        return "filepath" in self.python_type or _schema_has_filedata(self.json_type)

    @property
    def is_list(self) -> bool:
        return self.python_type.startswith("list[") or self.json_type.get("type") == "array"

    @property
    def file_shape(self) -> str:
        """'single', 'list', 'gallery' or 'nested' (files somewhere inside a dict)."""
        if self.component == "Gallery":
            return "gallery"
        if self.python_type == "filepath" or (self.component in _MEDIA and not self.is_list):
            return "single"
        if self.python_type in ("list[filepath]",) or (self.component in _MEDIA and self.is_list):
            return "list"
        return "nested"

    def compact_type(self) -> str:
        choices = self.choices
        if choices is not None and not self.takes_files:
            alts = "|".join(json.dumps(c) for c in choices)
            return f"list[{alts}]" if self.is_list else alts
        if self.takes_files and self.file_shape == "single":
            return _media_name(self.component)
        if self.takes_files and self.file_shape == "list":
            return f"list[{_media_name(self.component)}]"
        return _simplify(self.python_type) or self.json_type.get("type", "any")


_NUMBER_TYPES = ("float", "int")
_TEXTLIKE = ("text", "html", "json")


def check_value(ep_name: str, p: Param, value: Any, custom_ok: bool = False) -> Any:
    """`value` as parameter `p` takes it (numbers from numeric text, a choice matched by its text), or
    InvalidInputs in one line naming the parameter, what it expects and what it got. Checked before any
    submission: a wrong value otherwise queues for GPU time and fails with a hidden error."""
    if value is None:
        return None

    def bad(expects: str) -> InvalidInputs:
        got = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return InvalidInputs(f"{ep_name}: {p.name} expects {expects}; got {got} ({type(value).__name__}).")

    if p.takes_files:
        _check_files(p, value, bad)
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


def _check_files(p: Param, value: Any, bad: Callable[[str], InvalidInputs]) -> None:
    """File references of the right media: an image input given an .mp3 or a text file is refused."""
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
            raise bad(f"a {_media_name(p.component)} (a local path, a URL or {{'path': ...}})")
        if media is None:
            continue
        found = _kind_of(ref if isinstance(ref, str) else name)
        family = media_of(found)
        if family is None or family == media or (media == "audio" and family == "video"):
            continue
        raise bad(f"an {media} file" if media[0] in "aeiou" else f"a {media} file") from None


def _kind_of(ref: str) -> str | None:
    """What a file reference is: its bytes for a local file, else what its name claims."""
    path = os.path.expanduser(ref)
    if not ref.startswith(("http://", "https://")) and os.path.isfile(path):
        try:
            found = sniff(path)
        except OSError:
            return kind_of_name(ref)
        return found if found != "unknown" else kind_of_name(ref)
    return kind_of_name(ref)


def _media_name(component: str) -> str:
    kind = _MEDIA.get(component, "")
    return f"{kind} file" if kind else "file"


def _simplify(python_type: str) -> str:
    return python_type.replace("filepath", "file")


def _schema_has_filedata(node: Any) -> bool:
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and "path" in props and ("meta" in props or "orig_name" in props):
            return True
        if node.get("title") in ("FileData", "ImageData"):
            return True
        return any(_schema_has_filedata(v) for v in node.values())
    if isinstance(node, list):
        return any(_schema_has_filedata(v) for v in node)
    return False


@dataclass(frozen=True)
class Return:
    label: str
    component: str
    python_type: str

    def compact_type(self) -> str:
        if self.python_type == "filepath" or (
            self.component in _MEDIA and "filepath" in self.python_type and not self.python_type.startswith("list")
        ):
            return _media_name(self.component)
        if self.component == "Gallery":
            return "gallery[image file]"
        return _simplify(self.python_type) or "any"


@dataclass(frozen=True)
class Endpoint:
    name: str  # with the leading slash, as /info names it
    params: tuple[Param, ...]
    returns: tuple[Return, ...]
    description: str = ""

    @property
    def api_name(self) -> str:
        return self.name.lstrip("/")

    def signature(self) -> str:
        parts = []
        for p in self.params:
            name = f'{p.name} "{p.label}"' if _PLACEHOLDER_NAME.match(p.name) and p.label else p.name
            text = f"{name}: {p.compact_type()}"
            if p.has_default:
                text += f" = {_short_json(p.default)}"
            parts.append(text)
        rets = ", ".join(r.compact_type() for r in self.returns)
        line = f"{self.name}({', '.join(parts)}) -> [{rets}]"
        if self.description:
            line += f"  # {_one_line(self.description, 100)}"
        return line

    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def given(self, inputs: dict | list | tuple | None) -> dict[str, Any]:
        """The inputs the caller gave, by parameter name (validated, defaults not added)."""
        return _normalise_inputs(self, inputs)

    def to_positional(
        self,
        inputs: dict | list | tuple | None,
        convert: Callable[[Param, Any], Any] | None = None,
        custom_ok: frozenset[str] = frozenset(),
    ) -> list:
        """Map named or positional inputs to the positional list, filling defaults. Every value given
        is checked against its parameter first (`custom_ok`: dropdowns that take values outside their
        choices); `convert` is then applied to it (files get uploaded there)."""
        given = _normalise_inputs(self, inputs)
        missing = [p.name for p in self.params if p.name not in given and not p.has_default]
        if missing:
            raise InvalidInputs(
                f"{self.name} is missing required input(s) {', '.join(missing)}; signature: {self.signature()}"
            )
        data = []
        for p in self.params:
            if p.name in given:
                value = check_value(self.name, p, given[p.name], p.name in custom_ok)
                data.append(convert(p, value) if convert and value is not None else value)
            else:
                data.append(p.default)
        return data


def _normalise_inputs(ep: Endpoint, inputs: dict | list | tuple | None) -> dict[str, Any]:
    if inputs is None:
        return {}
    names = ep.param_names()
    if isinstance(inputs, dict):
        unknown = [k for k in inputs if k not in names]
        if unknown:
            valid = ", ".join(names) or "none (it takes no inputs)"
            raise InvalidInputs(f"{ep.name} has no input named {', '.join(map(str, unknown))}; valid names: {valid}.")
        return dict(inputs)
    if isinstance(inputs, (list, tuple)):
        if len(inputs) > len(names):
            raise InvalidInputs(
                f"{ep.name} takes {len(names)} input(s) but {len(inputs)} were given; signature: {ep.signature()}"
            )
        return dict(zip(names, inputs))
    if len(names) == 1:
        return {names[0]: inputs}
    raise InvalidInputs(f"Inputs for {ep.name} must be a dict of name→value or a list; got {type(inputs).__name__}.")


@dataclass
class ApiSchema:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    raw_chars: int = 0

    @classmethod
    def from_info(cls, info: dict) -> ApiSchema:
        """Parse /info. A malformed one (a wrong type anywhere, nested too deep) is a one-line BadAnswer,
        never a KeyError, TypeError or RecursionError now or later."""

        def typed(value: Any, kind: type, where: str) -> Any:
            if value is None:
                return kind()
            if not isinstance(value, kind):
                raise BadAnswer(
                    f"its API description is malformed: {where[:120]} is of type "
                    f"{type(value).__name__}, not {kind.__name__}"
                )
            return value

        if not isinstance(info, dict):
            raise BadAnswer(f"its API description is of type {type(info).__name__}, not an object")
        if too_deep(info):
            raise BadAnswer(f"its API description nests more than {MAX_DEPTH} levels deep")
        eps: dict[str, Endpoint] = {}
        for name, body in typed(info.get("named_endpoints"), dict, "named_endpoints").items():
            where = f"endpoint {name}"
            body = typed(body, dict, where)
            if body.get("api_visibility", "public") == "private" or body.get("show_api") is False:
                continue
            params = []
            for i, p in enumerate(typed(body.get("parameters"), list, f"{where} parameters")):
                at = f"{where} parameter {i}"
                p = typed(p, dict, at)
                py = typed(p.get("python_type"), dict, f"{at} python_type")
                json_type = typed(p.get("type"), dict, f"{at} type")
                typed(json_type.get("enum"), list, f"{at} type.enum")  # Param.choices lists them
                if isinstance(json_type.get("items"), dict):
                    typed(json_type["items"].get("enum"), list, f"{at} type.items.enum")
                params.append(
                    Param(
                        name=typed(p.get("parameter_name"), str, f"{at} parameter_name") or f"param_{i}",
                        label=typed(p.get("label"), str, f"{at} label"),
                        component=typed(p.get("component"), str, f"{at} component"),
                        python_type=typed(py.get("type"), str, f"{at} python_type.type"),
                        json_type=json_type,
                        has_default=bool(p.get("parameter_has_default")),
                        default=p.get("parameter_default"),
                        description=typed(py.get("description"), str, f"{at} python_type.description"),
                    )
                )
            returns = []
            for i, r in enumerate(typed(body.get("returns"), list, f"{where} returns")):
                at = f"{where} return {i}"
                r = typed(r, dict, at)
                returns.append(
                    Return(
                        label=typed(r.get("label"), str, f"{at} label"),
                        component=typed(r.get("component"), str, f"{at} component"),
                        python_type=typed(
                            typed(r.get("python_type"), dict, f"{at} python_type").get("type"),
                            str,
                            f"{at} python_type.type",
                        ),
                    )
                )
            key = name if name.startswith("/") else f"/{name}"
            eps[key] = Endpoint(
                key,
                tuple(params),
                tuple(returns),
                description=typed(body.get("description"), str, f"{where} description"),
            )
        return cls(eps, raw_chars=len(json.dumps(info)))

    def endpoint(self, name: str, space: str = "") -> Endpoint:
        key = "/" + (name or "").strip().lstrip("/")
        if key in self.endpoints:
            return self.endpoints[key]
        valid = ", ".join(self.endpoints) or "none"
        where = f" on {space}" if space else ""
        raise EndpointNotFound(f"No endpoint {key}{where}; available: {valid}.", list(self.endpoints))

    def compact(self) -> str:
        return "\n".join(ep.signature() for ep in self.endpoints.values())

    def to_dict(self) -> dict:
        return {
            name: {
                "description": ep.description,
                "parameters": [
                    {
                        "name": p.name,
                        "label": p.label,
                        "component": p.component,
                        "type": p.compact_type(),
                        "required": not p.has_default,
                        **({"default": p.default} if p.has_default else {}),
                        "takes_files": p.takes_files,
                        **({"choices": p.choices} if p.choices is not None else {}),
                    }
                    for p in ep.params
                ],
                "returns": [{"label": r.label, "component": r.component, "type": r.compact_type()} for r in ep.returns],
                "signature": ep.signature(),
            }
            for name, ep in self.endpoints.items()
        }


def _short_json(value: Any) -> str:
    # Python literals: the agent writes Python, so True/None read better than true/null.
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str, limit: int) -> str:
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


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
