"""Shared by the gallery tests: run folders with real files and manifests like the agent writes (two
chains, audio and a failure; six pipelined landmarks), the `run` fixture, and readers of the page."""

from __future__ import annotations

import re
import wave
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from apps.glb import make_glb
from PIL import Image

from spacechain.agent import gallery

EVIL = '<script>alert(1)</script> "onerror=alert(2) x'
EVIL_NAME = 'evil"><img src=x onerror=alert(3)>.png'
CUBE_RGB = (0.9, 0.35, 0.05)  # orange, easy to find in a screenshot


def make_run(run: Path) -> dict[str, Any]:
    """A run folder with real files and a manifest like the agent writes (two chains + audio + a failure)."""
    run.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(run / "generate-out-ab12cd34.png")
    Image.new("RGB", (40, 40), (30, 30, 200)).save(run / EVIL_NAME)
    for name in ("image_to_3d-preview-ef56.glb", "extract_glb-model-99.glb"):
        (run / name).write_bytes(make_glb(CUBE_RGB, {}))
    with wave.open(str(run / "speak-out-1.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 4000)
    png, evil_png, preview, model = (
        str(run / n)
        for n in ("generate-out-ab12cd34.png", EVIL_NAME, "image_to_3d-preview-ef56.glb", "extract_glb-model-99.glb")
    )

    def call(
        id_: int, space: str, endpoint: str, inputs: Any, outputs: Any, status: str = "complete", **kw: Any
    ) -> dict[str, Any]:
        files = [
            {
                "local": p,
                "sha256": "0" * 64,
                "remote": f"http://127.0.0.1:9/file={Path(p).name}",
                "size": 1,
                "direction": "out",
            }
            for p in outputs or []
            if isinstance(p, str)
        ]
        return {
            "id": id_,
            "step": id_,
            "space": space,
            "endpoint": endpoint,
            "session": "default",
            "inputs": inputs,
            "status": status,
            "outputs": outputs,
            "files": files,
            "error": None,
            "queue_s": 0.0,
            "run_s": 1.2,
            "total_s": 1.2 * id_,
            "cached": False,
            **kw,
        }

    return {
        "goal": "a 3D gallery of two landmarks <b>bold</b>",
        "model": "openai/x",
        "status": "success",
        "final_answer": "Done.</p><script>alert(4)</script>",
        "started_at": "2026-11-22T00:00:00+00:00",
        "run_dir": str(run),
        "calls": [
            call(1, "acme/flux-lite", "/generate", {"prompt": "Eiffel Tower", "seed": 3}, [png, 42]),
            # The remote URL of call 1's output (not its local path) still links the chain.
            call(
                2,
                "acme/trellis-lite",
                "/image_to_3d",
                {"image": {"path": f"http://127.0.0.1:9/file={Path(png).name}"}},
                [preview],
            ),
            call(3, "acme/trellis-lite", "/extract_glb", {"texture_size": 1024}, [model, model]),
            call(4, "acme/flux-lite", "/generate", {"prompt": EVIL}, [evil_png, 7], cached=True),
            call(5, "acme/toolbox", "/speak", ["Hello there"], [str(run / "speak-out-1.wav")]),
            call(
                6,
                "acme/toolbox",
                "/fail",
                {"prompt": "x"},
                None,
                status="error",
                error={"error": "quota_exceeded", "message": "GPU quota"},
            ),
        ],
    }


def parse_tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    tags: list[tuple[str, dict[str, str | None]]] = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: tags.append((tag, dict(attrs)))  # type: ignore[method-assign]
    parser.feed(page)
    return tags


def cards(page: str) -> dict[str, str]:
    """{file name: card html} (the name is the card's caption link text, unescaped)."""
    out = {}
    for card in re.findall(r'<figure class="card.*?</figure>', page, re.S):
        name = re.search(r'class="name"[^>]*>(.*?)</', card).group(1)
        out[name.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")] = card
    return out


def chain(card: str) -> list[str]:
    """The chain as text: `img:<src>` for thumbnails, else the item's text without tags."""
    items = []
    for li in re.findall(r"<li[^>]*>(.*?)</li>", card, re.S):
        img = re.search(r'<img src="([^"]+)"', li)
        items.append(f"img:{img.group(1)}" if img else re.sub(r"<[^>]+>", "", li).strip())
    return items


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    monkeypatch.delenv(gallery.MODEL_VIEWER_ENV, raising=False)
    run_dir = tmp_path / "run"
    return run_dir, make_run(run_dir)


def six_landmarks(run: Path) -> dict[str, Any]:
    """A pipelined six-item text → image → 3D run, as `run_pipeline` records it (one session per item)."""
    run.mkdir(parents=True, exist_ok=True)
    calls: list[dict[str, Any]] = []
    names = ["Eiffel Tower", "Big Ben", "Colosseum", "Taj Mahal", "Sydney Opera House", "Golden Gate Bridge"]
    for n, name in enumerate(names):
        png, preview, glb = run / f"infer-image-{n:08x}.webp", run / f"image_to_3d-{n}.glb", run / f"extract-{n}.glb"
        Image.new("RGB", (32, 32), (40 * n, 90, 200)).save(png, "WEBP")
        preview.write_bytes(make_glb(CUBE_RGB, {}))
        glb.write_bytes(make_glb(CUBE_RGB, {}))
        for k, (space, endpoint, inputs, out) in enumerate(
            [
                ("acme/flux-lite", "/generate", {"prompt": name, "seed": 0}, png),
                ("acme/trellis-lite", "/image_to_3d", {"image": {"path": str(png)}}, preview),
                ("acme/trellis-lite", "/extract_glb", {"texture_size": 512}, glb),
            ]
        ):
            calls.append(
                {
                    "id": len(calls) + 1,
                    "space": space,
                    "endpoint": endpoint,
                    "session": f"item-{n}",
                    "inputs": inputs,
                    "outputs": [str(out)],
                    "status": "complete",
                    "files": [{"local": str(out), "direction": "out", "remote": ""}],
                    # the pipeline: item n's image is made while item n-1 is turned into 3D
                    "submitted_at": f"2026-12-01T08:00:{10 + 2 * n + 2 * k:02d}+00:00",
                    "queue_s": 0.5,
                    "run_s": 1.5,
                    "total_s": 2.0,
                    "cached": n == 0 and k == 0,
                }
            )
    return {"goal": "six landmarks in 3D", "status": "success", "calls": calls}
