"""acme/portrait: a fake photo + prompt → portrait app (like FLUX Kontext): the photo's mean colour blended with
the prompt's, its source's sha256 and the prompt kept in the PNG's text so tests can tell what made it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gradio as gr
from apps.media import delay, prompt_color, write_png
from PIL import Image


def stylize(image: str, prompt: str, strength: float = 0.8) -> str:
    """Restyle a photo as the prompt says (fake: a flat colour between the photo's and the prompt's).

    Args:
        image: the photo to restyle
        prompt: what the portrait should look like
        strength: how far from the photo to go (0 = keep it, 1 = all prompt)
    """
    delay(1.0)
    if not image:
        raise gr.Error("Upload a photo first")
    with Image.open(image) as img:
        photo = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    target = prompt_color(prompt)
    mix = tuple(int(p + (t - p) * float(strength)) for p, t in zip(photo, target))  # type: ignore[arg-type]
    meta = {"prompt": prompt, "source_sha256": hashlib.sha256(Path(image).read_bytes()).hexdigest()}
    return write_png(mix, (64, 64), prompt, meta)  # type: ignore[arg-type]


def build_portrait() -> gr.Blocks:
    with gr.Blocks(title="Portrait") as demo:
        gr.Markdown("# Portrait\nFake photo-to-portrait for tests.")
        photo = gr.Image(label="Photo", type="filepath", image_mode=None, format="png")
        prompt = gr.Textbox(label="Prompt")
        strength = gr.Slider(0, 1, value=0.8, label="Strength")
        out = gr.Image(label="Portrait", type="filepath", format="png")
        gr.Button("Stylize").click(stylize, [photo, prompt, strength], out, api_name="stylize")
    return demo
