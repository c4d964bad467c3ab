"""acme/trellis-lite: a fake TRELLIS image-to-3D app, image_to_3d then extract_glb on the session's gr.State."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import gradio as gr
from apps.media import MAX_SEED, delay, write_glb
from PIL import Image


def image_to_3d(
    image: str,
    seed: int = 0,
    ss_guidance_strength: float = 7.5,
    ss_sampling_steps: int = 12,
    slat_guidance_strength: float = 3.0,
    slat_sampling_steps: int = 12,
    multiimages: list[tuple[str, str | None]] | None = None,
    multiimage_algo: str = "stochastic",
    preprocess: bool = True,
    mesh_simplify: float = 0.95,
    texture_size: int = 1024,
    resolution: str = "1024",
    randomize_seed: bool = False,
    output_name: str = "model",
    reference_file: str | None = None,
    state: dict | None = None,
) -> tuple[dict, str]:
    """Convert an image to a 3D asset (fake TRELLIS). Keeps the result in the session State for extract_glb.

    Args:
        image: the input image
        seed: random seed
        ss_guidance_strength: sparse structure guidance
        ss_sampling_steps: sparse structure sampling steps
        slat_guidance_strength: structured latent guidance
        slat_sampling_steps: structured latent sampling steps
        multiimages: extra views for multi-image conditioning
        multiimage_algo: how to combine the extra views
        preprocess: remove the background first
        mesh_simplify: ratio of faces to keep
        texture_size: texture resolution
        resolution: internal grid resolution
        randomize_seed: pick a new random seed
        output_name: base name of the produced files
        reference_file: optional reference file (any type)
    """
    delay(1.5)
    if not image:
        raise gr.Error("Upload an image first")
    if randomize_seed:
        seed = random.randint(0, MAX_SEED)
    raw = Path(image).read_bytes()
    with Image.open(image) as img:
        color = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    new_state = {
        "image_sha256": hashlib.sha256(raw).hexdigest(),
        "seed": int(seed),
        "color": list(color),
        "views": len(multiimages or []),
        "algo": multiimage_algo,
        "texture_size": int(texture_size),
        "resolution": resolution,
        "name": output_name or "model",
        "reference_size": Path(reference_file).stat().st_size if reference_file else None,
    }
    return new_state, write_glb(new_state, "preview.glb", stage="preview")


def extract_glb(state: dict | None, decimation_target: float = 500000, texture_size: float = 2048) -> tuple[str, str]:
    """Extract a GLB file from the 3D model made by image_to_3d in the same session.

    Args:
        decimation_target: target number of faces
        texture_size: texture resolution
    """
    delay(0.5)
    if not state:
        # Proves to tests that the session (session_hash) carried the State between calls.
        raise gr.Error("Generate a 3D model first")
    path = write_glb(
        state, f"{state['name']}.glb", stage="final", decimation_target=decimation_target, texture_size=texture_size
    )
    return path, path


def add_img2_3d(with_title: bool = True) -> None:
    """Add the TRELLIS-like UI to the current Blocks context (reused by `big`)."""
    if with_title:
        gr.Markdown("# TRELLIS lite\nFake image-to-3D for tests.")
    state = gr.State(None)
    with gr.Row():
        # image_mode=None: gradio passes the upload through byte-for-byte, so the sha256 in the GLB
        # equals the sha256 of the file the client uploaded (RGBA would make gradio re-encode it).
        image = gr.Image(label="Image Prompt", type="filepath", image_mode=None, format="png")
        multiimages = gr.Gallery(label="Multiple views", type="filepath", columns=3)
    with gr.Accordion("Generation Settings", open=False):
        seed = gr.Slider(0, MAX_SEED, label="Seed", value=0, step=1)
        randomize = gr.Checkbox(label="Randomize Seed", value=False)
        ss_g = gr.Slider(0.0, 10.0, label="Guidance Strength", value=7.5, step=0.1)
        ss_s = gr.Slider(1, 50, label="Sampling Steps", value=12, step=1)
        slat_g = gr.Slider(0.0, 10.0, label="SLAT Guidance Strength", value=3.0, step=0.1)
        slat_s = gr.Slider(1, 50, label="SLAT Sampling Steps", value=12, step=1)
        algo = gr.Radio(["stochastic", "multidiffusion"], label="Multi-image Algorithm", value="stochastic")
        preprocess = gr.Checkbox(label="Preprocess image", value=True)
        simplify = gr.Slider(0.9, 0.98, label="Simplify", value=0.95, step=0.01)
        tex = gr.Dropdown([512, 1024, 2048], label="Texture Size", value=1024)
        res = gr.Dropdown(["512", "1024"], label="Resolution", value="1024")
        name = gr.Textbox(label="Output name", value="model")
        ref = gr.File(label="Reference file", value=None)
    preview = gr.Model3D(label="Preview")
    with gr.Accordion("GLB Extraction", open=False):
        decimation = gr.Slider(10000, 1000000, label="Decimation Target", value=500000, step=10000)
        glb_tex = gr.Slider(512, 4096, label="Texture Size", value=2048, step=512)
    glb_view = gr.Model3D(label="Extracted GLB")
    glb_file = gr.File(label="Download GLB")
    gen = gr.Button("Generate")
    gen.click(
        image_to_3d,
        [
            image,
            seed,
            ss_g,
            ss_s,
            slat_g,
            slat_s,
            multiimages,
            algo,
            preprocess,
            simplify,
            tex,
            res,
            randomize,
            name,
            ref,
            state,
        ],
        [state, preview],
        api_name="image_to_3d",
    )
    ext = gr.Button("Extract GLB")
    ext.click(extract_glb, [state, decimation, glb_tex], [glb_view, glb_file], api_name="extract_glb")


def build_img2_3d() -> gr.Blocks:
    with gr.Blocks(title="TRELLIS lite") as demo:
        add_img2_3d()
    return demo
