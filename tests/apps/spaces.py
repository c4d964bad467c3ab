"""Real Gradio apps shaped like popular Spaces, with cheap fake compute.

Run `python tests/apps/spaces.py [name ...]` to launch the named apps (default: all) on
free 127.0.0.1 ports in one process; `name@copy` launches one more copy of an app (as duplicates of a
Space are). It prints one JSON line {"name": "http://127.0.0.1:PORT"}
and then sleeps until killed. SPACECHAIN_TEST_DELAY (float seconds, default 0) scales
the fake compute time, so tests can make jobs overlap or time out on purpose.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import gradio as gr

if __name__ == "__main__":
    # Run as a script, only this folder is on sys.path: add tests/ so the apps import each other as the
    # package `apps`, the same modules the tests import.
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from apps.big import build_big
from apps.chat import build_chat
from apps.glb import make_glb
from apps.img2_3d import build_img2_3d
from apps.jobs import build_jobs
from apps.misc import build_misc
from apps.portrait import build_portrait
from apps.tables import build_tables
from apps.text2img import build_text2img
from apps.trellis2 import build_trellis2

__all__ = ["BUILDERS", "build_apps", "main", "make_glb"]


BUILDERS = {
    "text2img": build_text2img,
    "text2img_quota": lambda: build_text2img("quota"),
    "text2img_v2": lambda: build_text2img("v2"),
    "img2_3d": build_img2_3d,
    "misc": build_misc,
    "big": build_big,
    "chat": build_chat,
    "tables": build_tables,
    "jobs": build_jobs,
    "portrait": build_portrait,
    "trellis2": build_trellis2,
}


def build_apps() -> dict[str, gr.Blocks]:
    return {name: build() for name, build in BUILDERS.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(names: list[str]) -> None:
    names = names or list(BUILDERS)
    unknown = [n for n in names if n.split("@")[0] not in BUILDERS]
    if unknown:
        sys.exit(f"unknown app(s): {unknown}; choose from {list(BUILDERS)}")
    urls: dict[str, str] = {}
    for name in names:
        port = _free_port()
        # show_error=False like most Spaces, so plain exceptions come back as {"error": null}.
        BUILDERS[name.split("@")[0]]().launch(
            server_name="127.0.0.1",
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            ssr_mode=False,
        )
        urls[name] = f"http://127.0.0.1:{port}"
    print(json.dumps(urls), flush=True)
    while True:  # servers run in daemon threads; the test harness kills our process group
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
