"""acme/trellis2-lite: a fake TRELLIS.2, whose /image_to_3d makes no 3D file (an HTML preview; the model stays in
the session's gr.State) and whose /extract_glb then returns the GLB: a chain's only 3D file comes from its last call."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import gradio as gr
from apps.media import delay, write_glb
from PIL import Image


def image_to_3d(image: str, seed: int = 0, resolution: str = "1024", state: dict | None = None) -> tuple[dict, str]:
    """Make a 3D model from an image (fake TRELLIS.2); the preview is HTML, the model stays in the session.

    Args:
        image: the input image
        seed: random seed
        resolution: internal grid resolution
    """
    delay(1.5)
    if not image:
        raise gr.Error("Upload an image first")
    with Image.open(image) as img:
        color = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    new_state = {
        "image_sha256": hashlib.sha256(Path(image).read_bytes()).hexdigest(),
        "seed": int(seed),
        "color": list(color),
        "resolution": resolution,
    }
    return new_state, f"<div class='preview'>model ready ({html.escape(resolution)})</div>"


def extract_glb(state: dict | None, decimation_target: float = 500000, texture_size: float = 2048) -> tuple[str, str]:
    """Extract a GLB file from the model image_to_3d made in the same session.

    Args:
        decimation_target: target number of faces
        texture_size: texture resolution
    """
    delay(0.5)
    if not state:
        raise gr.Error("Generate a 3D model first")
    path = write_glb(state, "sample.glb", stage="final", decimation_target=decimation_target)
    return path, path


def build_trellis2() -> gr.Blocks:
    with gr.Blocks(title="TRELLIS.2 lite") as demo:
        state = gr.State(None)
        image = gr.Image(label="Image Prompt", type="filepath", image_mode=None, format="png")
        seed = gr.Slider(0, 2**31 - 1, label="Seed", value=0, step=1)
        resolution = gr.Radio(["512", "1024", "1536"], label="Resolution", value="1024")
        preview = gr.HTML(label="Preview")
        decimation = gr.Slider(10000, 1000000, label="Decimation Target", value=500000, step=10000)
        texture = gr.Slider(512, 4096, label="Texture Size", value=2048, step=512)
        glb_view = gr.Model3D(label="Extracted GLB")
        glb_file = gr.File(label="Download GLB")
        gr.Button("Generate").click(
            image_to_3d, [image, seed, resolution, state], [state, preview], api_name="image_to_3d"
        )
        gr.Button("Extract GLB").click(
            extract_glb, [state, decimation, texture], [glb_view, glb_file], api_name="extract_glb"
        )
    return demo
