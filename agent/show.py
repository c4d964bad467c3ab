"""`spacechain show`: a run's gallery served on 127.0.0.1, and nothing but the files its manifest lists."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from spacechain.agent.gallery import LOCAL_MODEL_VIEWER, _is_path, _leaves, _Run
from spacechain.agent.results import RESULTS, saved_results

__all__ = ["MEDIA_TYPES", "serve", "served_files"]


# What `spacechain show` serves inline, by extension; any other file is a download, so HTML, SVG or script a
# Space made never runs on the gallery's origin.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
}


# The viewer files under the run's assets/ (the gallery's own, copied from npm), served as what they are.
ASSET_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
}


def served_files(run_dir: Path, manifest: dict) -> dict[str, Path]:
    """URL path → file: the gallery, its local model-viewer, and the files the manifest names inside the run
    folder (through no link that leads out of it). Nothing else in the folder is served."""
    root = Path(run_dir).resolve()
    calls = [c for c in manifest.get("calls") or [] if isinstance(c, dict)] if isinstance(manifest, dict) else []
    run = _Run(root, calls)
    names = [str(root / "gallery.html"), str(root / LOCAL_MODEL_VIEWER)]
    # The viewers the gallery copied into assets/ (--offline-viewers): scripts and their data, never links.
    assets = root / "assets"
    if assets.is_dir() and not assets.is_symlink():
        for f in sorted(assets.rglob("*")):
            if f.suffix.lower() in ASSET_TYPES and os.path.realpath(f) == str(f):  # no link on the way
                names.append(str(f))
    for c in calls:
        for key in ("inputs", "outputs"):
            names += [v for _, v in _leaves(c.get(key)) if isinstance(v, str) and _is_path(v)]
        names += [f["local"] for f in c.get("files") or [] if isinstance(f, dict) and isinstance(f.get("local"), str)]
    kept = manifest.get("results") if isinstance(manifest, dict) else None
    names += [f"{RESULTS}/{e['name']}" for e in saved_results(kept)]  # the readable copies (agent/results.py)
    served: dict[str, Path] = {}
    for name in names:
        path = run.norm(name)
        if path.startswith(("http://", "https://")):
            continue
        try:
            real = Path(path).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            continue  # missing, a link loop, a NUL byte
        if real.is_file() and real.is_relative_to(root):
            for shown in (Path(path), real):  # as the gallery links it, and without links
                if shown.is_relative_to(root):
                    served[shown.relative_to(root).as_posix()] = real
    return served


def serve(run_dir: Path, port: int = 0, manifest: dict | None = None) -> tuple[Any, str]:
    """A local http server for a run's gallery (browsers refuse models on file:// pages): (server, url).

    Only for this machine's browser: requests naming another Host (DNS rebinding) are refused, and only
    served_files() are served, without listings; a Space's non-media files are downloads in a sandbox."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served = served_files(run_dir, manifest or {})

    class Handler(BaseHTTPRequestHandler):
        server_version = "spacechain"
        sys_version = ""

        def log_message(self, *args: Any) -> None:
            pass

        def _plain(self, status: int, text: str, body: bool) -> None:
            data = text.encode()
            self.send_response(status)
            for name, value in (
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(data))),
                ("X-Content-Type-Options", "nosniff"),
            ):
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _send(self, body: bool) -> None:
            port = int(self.server.server_address[1])  # type: ignore[index]
            if (self.headers.get("Host") or "").lower() not in (f"127.0.0.1:{port}", f"localhost:{port}"):
                return self._plain(403, f"open http://127.0.0.1:{port}/gallery.html\n", body)
            rel = unquote(urlsplit(self.path).path).lstrip("/") or "gallery.html"
            try:
                f = open(served[rel], "rb")
            except (KeyError, OSError):
                return self._plain(404, "not a file of this gallery\n", body)
            with f:
                ext = os.path.splitext(rel)[1].lower()
                headers = {
                    "Content-Length": str(os.fstat(f.fileno()).st_size),
                    "X-Content-Type-Options": "nosniff",
                    "Cache-Control": "no-cache",
                }
                if rel == "gallery.html":
                    headers["Content-Type"] = "text/html; charset=utf-8"
                elif rel.startswith("assets/") and ext in ASSET_TYPES:
                    headers["Content-Type"] = ASSET_TYPES[ext]
                else:
                    headers["Content-Type"] = MEDIA_TYPES.get(ext, "application/octet-stream")
                    headers["Content-Security-Policy"] = "sandbox"
                    if ext not in MEDIA_TYPES:
                        headers["Content-Disposition"] = "attachment"
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if body:
                    shutil.copyfileobj(f, self.wfile)

        def do_GET(self) -> None:
            self._send(body=True)

        def do_HEAD(self) -> None:
            self._send(body=False)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a browser that left early is no error
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", port), Handler)
    return server, f"http://127.0.0.1:{server.server_address[1]}/gallery.html"
