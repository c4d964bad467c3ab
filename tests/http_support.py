"""A Gradio-shaped API for scripted servers, and reading what they were sent."""

from __future__ import annotations

import io

from PIL import Image
from servers import Reply, ScriptedServer

FILE_META = {"_type": "gradio.FileData"}


def _text(name: str) -> dict:
    return {
        "label": name,
        "parameter_name": name,
        "parameter_has_default": False,
        "parameter_default": None,
        "type": {"type": "string"},
        "python_type": {"type": "str", "description": ""},
        "component": "Textbox",
    }


def _image(name: str) -> dict:
    return {
        "label": name,
        "parameter_name": name,
        "parameter_has_default": False,
        "parameter_default": None,
        "type": {
            "title": "ImageData",
            "type": "object",
            "properties": {"path": {"type": "string"}, "meta": {"type": "object"}},
        },
        "python_type": {"type": "filepath", "description": ""},
        "component": "Image",
    }


def _ret(param: dict) -> dict:
    return {k: param[k] for k in ("label", "type", "python_type", "component")}


INFO = {
    "named_endpoints": {
        "/x": {"parameters": [], "returns": [_ret(_text("out"))]},
        "/img": {"parameters": [_image("image")], "returns": [_ret(_image("result"))]},
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
