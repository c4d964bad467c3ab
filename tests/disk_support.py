"""Shared by the cache- and run-folder-safety tests: a scripted Gradio-shaped app (one endpoint /x(text,
file) with a /config, so the cache runs) and small readers of what a call left on disk."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from servers import Reply, ScriptedServer, sse

from spacechain.tools.http import RetryPolicy

FAST = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02)
FILE_META = {"_type": "gradio.FileData"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


def leftovers(folder: Path) -> list[str]:
    """Temp files of ours (.partial-*, .manifest.json.*.tmp…) anywhere under `folder`."""
    return [str(p) for p in folder.rglob(".*") if p.is_file()]


def _param(name: str, component: str = "Textbox", files: bool = False) -> dict:
    kind = {"type": "filepath", "description": ""} if files else {"type": "str", "description": ""}
    schema = (
        {"title": "FileData", "type": "object", "properties": {"path": {"type": "string"}}}
        if files
        else {"type": "string"}
    )
    return {
        "label": name,
        "parameter_name": name,
        "parameter_has_default": True,
        "parameter_default": None,
        "type": schema,
        "python_type": kind,
        "component": component,
    }


def _ret(component: str) -> dict:
    return {
        "label": component,
        "type": {},
        "python_type": {"type": "filepath" if component == "File" else "Any", "description": ""},
        "component": component,
    }


def gradio_app(
    srv: ScriptedServer,
    outputs: list,
    *,
    title: str = "App A",
    file_body: bytes = b"",
    returns: tuple[str, ...] = ("JSON",),
) -> ScriptedServer:
    """One endpoint /x(text, file) -> `outputs`; /config tells the cache there is no gr.State."""
    srv.script.clear()
    srv.add(
        "/gradio_api/info",
        Reply(
            200,
            body={
                "named_endpoints": {
                    "/x": {
                        "parameters": [_param("text"), _param("file", "File", files=True)],
                        "returns": [_ret(c) for c in returns],
                    }
                },
                "unnamed_endpoints": {},
            },
        ),
    )
    comps = [{"id": 1, "type": "textbox"}, {"id": 2, "type": "file"}] + [
        {"id": 3 + i, "type": c.lower()} for i, c in enumerate(returns)
    ]
    srv.add(
        "/config",
        Reply(
            200,
            body={
                "title": title,
                "app_id": int(time.time() * 1e6),
                "root": srv.url,
                "components": comps,
                "dependencies": [{"api_name": "x", "inputs": [1, 2], "outputs": [3 + i for i in range(len(returns))]}],
            },
        ),
    )
    srv.add("/gradio_api/upload", Reply(200, body=["/tmp/gradio/up/in.txt"]))
    srv.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    srv.add("/gradio_api/call/x/e1", sse(("complete", outputs)))
    srv.add("/gradio_api/file=", Reply(200, {"content-type": "application/octet-stream"}, file_body))
    return srv


def out_file(name: str = "out.bin") -> dict:
    return {"path": f"/tmp/gradio/abc/{name}", "meta": FILE_META, "orig_name": name}


def real_calls(srv: ScriptedServer) -> int:
    return len([r for r in srv.requests if r.method == "POST" and r.path == "/gradio_api/call/x"])
