"""What the fake Spaces return: small labelled PNGs and GLB cubes under gradio's upload folder, a colour
per prompt, and the fake compute time (SPACECHAIN_TEST_DELAY)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

from apps.glb import make_glb
from gradio.utils import get_upload_folder
from PIL import Image, ImageDraw, PngImagePlugin

MAX_SEED = 2**31 - 1
# The ZeroGPU quota error exactly as the `spaces` package raises it.
QUOTA_MESSAGE = (
    "You have exceeded your free ZeroGPU quota (60s requested vs. 56s left). Try again in 0:09:48. "
    "Authenticate with a Hugging Face token for more quota - https://huggingface.co/settings/tokens"
)


def log_call(host: str, endpoint: str, **fields: Any) -> None:
    """One JSON line per call a fake Space ran, to SPACECHAIN_TEST_CALL_LOG when set: which app (its
    host:port) got the call, so a test can assert that a Space got none."""
    path = os.environ.get("SPACECHAIN_TEST_CALL_LOG")
    if path:
        import json

        with open(path, "a") as f:
            f.write(json.dumps({"host": host, "endpoint": endpoint, **fields}) + "\n")


def delay(factor: float) -> None:
    """Sleep `factor` x SPACECHAIN_TEST_DELAY. The env var is read at call time so one process keeps one setting."""
    seconds = float(os.environ.get("SPACECHAIN_TEST_DELAY", "0") or 0) * factor
    if seconds > 0:
        time.sleep(seconds)


def out_path(suffix: str) -> Path:
    # Files go under gradio's upload folder (GRADIO_TEMP_DIR) because gradio always allows that
    # folder, and the test's tmp dir removes it afterwards.
    folder = Path(get_upload_folder()) / "spacechain-out" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"out{suffix}"


def prompt_color(prompt: str) -> tuple[int, int, int]:
    """Deterministic colour for a prompt (sha256, not hash(): hash() is salted per process)."""
    d = hashlib.sha256(prompt.encode()).digest()
    return d[0], d[1], d[2]


def write_png(color: tuple[int, int, int], size: tuple[int, int], text: str, meta: dict[str, str]) -> str:
    """Write a small PNG with a visible label and tEXt chunks so tests can tell which input made it."""
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).text((4, 4), text[:40], fill=(255 - color[0], 255 - color[1], 255 - color[2]))
    info = PngImagePlugin.PngInfo()
    for key, value in meta.items():
        info.add_text(key, value)
    path = out_path(".png")
    img.save(path, pnginfo=info)
    return str(path)


def write_glb(state: dict[str, Any], name: str, **extra: Any) -> str:
    color = tuple(c / 255 for c in state["color"])
    path = out_path(".glb").with_name(name)
    path.write_bytes(make_glb(color, {"source_sha256": state["image_sha256"], "seed": state["seed"], **extra}))  # type: ignore[arg-type]
    return str(path)
