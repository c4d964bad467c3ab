"""Shared by the studio's browser tests: `spacechain ui` in a subprocess on 127.0.0.1 with the scripted LLM, a
Chromium page on it (Playwright, Debian's chromium), and what the tests read from the page and the run folders."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cli_support import SPACECHAIN, cli_env
from llm_stub import LLMStub
from servers import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def blob(src: str, thought: str = "Next step.") -> str:
    return f"Thought: {thought}\n<code>\n{src.strip()}\n</code>"


class PhotoStub(LLMStub):
    """Puts the path of the user's photo, as the task lists it, where a reply says {PHOTO}."""

    def next_reply(self, body: dict) -> str:
        reply = super().next_reply(body)
        found = re.findall(r"- (/[^\s\"\\]+/inputs/[^\s\"\\]+)", json.dumps(body.get("messages")))
        return reply.replace("{PHOTO}", found[-1] if found else "no-photo")


def png(path: Path, color: tuple[int, int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 64), color).save(path)
    return path


def glb_extras(path: str) -> dict:
    data = Path(path).read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])["asset"]["extras"]


def manifests(out: Path) -> dict[str, dict]:
    return {
        d.name: json.loads((d / "manifest.json").read_text()) for d in out.iterdir() if (d / "manifest.json").is_file()
    }


class Studio:
    def __init__(self, hub_url: str, stub: LLMStub, tmp: Path):
        self.out, self.stub, self.port = tmp / "runs", stub, free_port()
        env = cli_env(hub_url, tmp, GRADIO_TEMP_DIR=str(tmp / "gradio"))
        self.stderr = tempfile.TemporaryFile()
        args = ["ui", "--no-browser", "--port", str(self.port), "--model", "openai/scripted"]
        args += ["--api-base", stub.url, "--out", str(self.out), "--max-steps", "6"]
        self.proc = subprocess.Popen(
            [SPACECHAIN, *args], env=env, stdout=subprocess.PIPE, stderr=self.stderr, text=True, start_new_session=True
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(90)
        if not lines or not lines[0].strip():
            self.stop()
            self.stderr.seek(0)
            raise RuntimeError(f"the studio did not start: {self.stderr.read().decode()[-3000:]}")
        self.url = lines[0].strip()

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        except ProcessLookupError:
            pass

    def err_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")


def status(page) -> str:
    return page.locator("#status textarea").input_value()


def wait_status(page, pattern: str, timeout: float = 40) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = status(page)
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"status never matched {pattern!r}; it says {status(page)!r}")


def upload(page, where: str, path: Path) -> None:
    """Give a file to a gr.File; again if the page was not ready to take it (no file name shown)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        page.locator(f"{where} input[type=file]").set_input_files(str(path))
        try:
            page.locator(where).get_by_text(path.name).first.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the page did not take {path.name}")


def run_goal(page, goal: str) -> None:
    page.locator("#goal textarea").fill(goal)
    page.locator("#run").click()


def canvas_has_model(page, card: str) -> bool:
    """The Model3D canvas shows the model: the test GLBs are coloured from their photo, so some of the
    canvas's pixels are clearly coloured (the viewer's background and its icon buttons are grey)."""
    from PIL import Image

    canvas = page.locator(f"{card} canvas").first
    canvas.wait_for(state="visible")
    for _ in range(80):
        data = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB").tobytes()
        coloured = sum(1 for i in range(0, len(data), 3) if max(data[i : i + 3]) - min(data[i : i + 3]) > 40)
        if coloured > 0.02 * len(data) / 3:
            return True
        time.sleep(0.25)
    return False


@contextmanager
def open_page(url: str, on_response: Callable[[Any], None] | None = None) -> Iterator[Any]:
    """A fresh Chromium (nothing cached) with the studio's page loaded; every request the browser makes, its
    workers' included, is listed in `page.requested`; `on_response` sees every answer from the first."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium (.ci/run installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
        )
        ctx = browser.new_context(viewport={"width": 1400, "height": 1900})
        requested: list[str] = []
        ctx.on("request", lambda request: requested.append(request.url))
        pg = ctx.new_page()
        pg.set_default_timeout(30_000)
        pg.requested = requested  # type: ignore[attr-defined]
        if on_response is not None:
            pg.on("response", on_response)
        pg.goto(url)
        pg.locator("#goal textarea").wait_for()
        try:
            yield pg
        finally:
            browser.close()
