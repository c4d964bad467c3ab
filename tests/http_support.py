"""A Gradio-shaped API for scripted servers, and reading what they were sent."""

from __future__ import annotations

import io

from PIL import Image
from servers import Reply, ScriptedServer

FILE_META = {"_type": "gradio.FileData"}


def _param(name: str, component: str, schema: dict, python_type: str) -> dict:
    """A parameter as /gradio_api/info describes it (required: no default)."""
    return {
        "label": name,
        "parameter_name": name,
        "parameter_has_default": False,
        "parameter_default": None,
        "type": schema,
        "python_type": {"type": python_type, "description": ""},
        "component": component,
    }


def text_param(name: str) -> dict:
    return _param(name, "Textbox", {"type": "string"}, "str")


def image_param(name: str) -> dict:
    properties = {"path": {"type": "string"}, "meta": {"type": "object"}}
    schema = {"title": "ImageData", "type": "object", "properties": properties}
    return _param(name, "Image", schema, "filepath")


def returned(param: dict) -> dict:
    """The same component as an endpoint's return value."""
    return {k: param[k] for k in ("label", "type", "python_type", "component")}


INFO = {
    "named_endpoints": {
        "/x": {"parameters": [], "returns": [returned(text_param("out"))]},
        "/img": {"parameters": [image_param("image")], "returns": [returned(image_param("result"))]},
    },
    "unnamed_endpoints": {},
}


def png_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, "PNG")
    return buf.getvalue()


def gradio_like(srv: ScriptedServer) -> ScriptedServer:
    srv.add("/gradio_api/info", Reply(200, body=INFO))
    return srv


def posts(srv: ScriptedServer, path: str) -> list:
    return [r for r in srv.requests if r.method == "POST" and r.path == path]


def gets(srv: ScriptedServer, path: str) -> list:
    return [r for r in srv.requests if r.method == "GET" and r.path == path]
