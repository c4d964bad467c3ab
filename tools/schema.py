"""A typed model of `GET /gradio_api/info`, its compact one-line-per-endpoint rendering, and the
mapping of named or positional inputs onto the positional list that `/call/<endpoint>` takes."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import BadAnswer, EndpointNotFound, InvalidInputs
from .http import MAX_DEPTH, too_deep
from .nested import KEEP, transform

__all__ = ["ApiSchema", "Endpoint", "Param", "Return", "VIDEO_EXTS", "untranslated"]

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
        flagged: Mapping[str, str] | None = None,
    ) -> list:
        """Map named or positional inputs to the positional list, filling defaults. Every value given
        is checked against its parameter first (`custom_ok`: dropdowns that take values outside their
        choices; `flagged`: outputs whose bytes contradicted their component, by resolved path → what
        they are); `convert` is then applied to it (files get uploaded there)."""
        from .values import check_value  # values.py builds on this module's Param

        given = _normalise_inputs(self, inputs)
        missing = [p.name for p in self.params if p.name not in given and not p.has_default]
        if missing:
            raise InvalidInputs(
                f"{self.name} is missing required input(s) {', '.join(missing)}; signature: {self.signature()}"
            )
        data = []
        for p in self.params:
            if p.name in given:
                value = check_value(self.name, p, given[p.name], p.name in custom_ok, flagged)
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

    # Endpoints /info lists whose description is malformed → why: the rest of the app stays callable.
    broken: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_info(cls, info: dict) -> ApiSchema:
        """Parse /info. A malformed endpoint (a wrong type anywhere in it) is set aside with its reason
        and the others stay callable; only an answer with no usable endpoint at all is a one-line
        BadAnswer, never a KeyError, TypeError or RecursionError now or later."""
        if not isinstance(info, dict):
            raise BadAnswer(f"its API description is of type {type(info).__name__}, not an object")
        if too_deep(info):
            raise BadAnswer(f"its API description nests more than {MAX_DEPTH} levels deep")
        eps: dict[str, Endpoint] = {}
        broken: dict[str, str] = {}
        named = _typed(info.get("named_endpoints"), dict, "named_endpoints")
        for name, body in untranslated(named).items():
            key = name if name.startswith("/") else f"/{name}"
            try:
                ep = _parse_endpoint(key, body)
            except BadAnswer as exc:
                broken[key] = str(exc)
                continue
            if ep is not None:
                eps[key] = ep
        if broken and not eps:
            raise BadAnswer(next(iter(broken.values())))
        return cls(eps, raw_chars=len(json.dumps(info)), broken=broken)

    def endpoint(self, name: str, space: str = "") -> Endpoint:
        key = "/" + (name or "").strip().lstrip("/")
        if key in self.endpoints:
            return self.endpoints[key]
        where = f" on {space}" if space else ""
        if key in self.broken:
            raise BadAnswer(
                f"{key}{where} cannot be called: {self.broken[key]}; is it a Gradio app? Pick another "
                "endpoint or Space."
            )
        valid = ", ".join(self.endpoints) or "none"
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


def untranslated(value: Any) -> Any:
    """`value` with each of gradio's i18n labels (`{"key": ..., "_type": "translation_metadata"}`, as
    gr.ChatInterface and gr.I18n apps send them) replaced by its key: the text a browser would translate."""

    def visit(node: Any) -> Any:
        if isinstance(node, dict) and "translation_metadata" in (node.get("_type"), node.get("__type__")):
            return str(node.get("key") or "")
        return KEEP

    return transform(value, visit)


def _typed(value: Any, kind: type, where: str) -> Any:
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise BadAnswer(
            f"its API description is malformed: {where[:120]} is of type {type(value).__name__}, not {kind.__name__}"
        )
    return value


def _text(value: Any) -> str:
    """A label or description: shown, never acted on, so an odd one is shown as text, not refused."""
    if isinstance(value, str):
        return value
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _parse_endpoint(key: str, body: Any) -> Endpoint | None:
    """One endpoint of /info (None when it is private or hidden); a wrong type in it is a BadAnswer."""
    where = f"endpoint {key}"
    body = _typed(body, dict, where)
    if body.get("api_visibility", "public") == "private" or body.get("show_api") is False:
        return None
    params = []
    for i, p in enumerate(_typed(body.get("parameters"), list, f"{where} parameters")):
        at = f"{where} parameter {i}"
        p = _typed(p, dict, at)
        py = _typed(p.get("python_type"), dict, f"{at} python_type")
        json_type = _typed(p.get("type"), dict, f"{at} type")
        _typed(json_type.get("enum"), list, f"{at} type.enum")  # Param.choices lists them
        if isinstance(json_type.get("items"), dict):
            _typed(json_type["items"].get("enum"), list, f"{at} type.items.enum")
        params.append(
            Param(
                name=_typed(p.get("parameter_name"), str, f"{at} parameter_name") or f"param_{i}",
                label=_text(p.get("label")),
                component=_typed(p.get("component"), str, f"{at} component"),
                python_type=_typed(py.get("type"), str, f"{at} python_type.type"),
                json_type=json_type,
                has_default=bool(p.get("parameter_has_default")),
                default=p.get("parameter_default"),
                description=_text(py.get("description")),
            )
        )
    returns = []
    for i, r in enumerate(_typed(body.get("returns"), list, f"{where} returns")):
        at = f"{where} return {i}"
        r = _typed(r, dict, at)
        returns.append(
            Return(
                label=_text(r.get("label")),
                component=_typed(r.get("component"), str, f"{at} component"),
                python_type=_typed(
                    _typed(r.get("python_type"), dict, f"{at} python_type").get("type"), str, f"{at} python_type.type"
                ),
            )
        )
    return Endpoint(key, tuple(params), tuple(returns), description=_text(body.get("description")))
