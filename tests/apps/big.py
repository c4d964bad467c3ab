"""`big`: the TRELLIS-like UI plus generic variant endpoints, for a large /gradio_api/info."""

from __future__ import annotations

import gradio as gr
from apps.img2_3d import add_img2_3d
from apps.media import prompt_color, write_png


def _make_variant(i: int):
    """One extra generic endpoint so `big` has a large /info (like a Space with many tabs)."""

    def variant(
        prompt: str,
        negative_prompt: str = "",
        style: str = "photo",
        strength: float = 0.8,
        steps: int = 20,
        upscale: bool = False,
    ) -> str:
        """Fake text-to-image variant. Applies a style preset to an image generated from the prompt.

        Args:
            prompt: description of the wanted change, in English
            negative_prompt: what to avoid in the output
            style: style preset to apply
            strength: how strongly to apply the style (0 = none, 1 = full)
            steps: number of denoising steps
            upscale: upscale the result 2x after generation
        """
        return write_png(prompt_color(prompt), (32, 32), prompt, {"prompt": prompt, "variant": str(i)})

    variant.__name__ = f"variant_{i}"
    return variant


def build_big(extra_endpoints: int = 1) -> gr.Blocks:
    with gr.Blocks(title="Big Space") as demo:
        add_img2_3d()
        for i in range(extra_endpoints):
            with gr.Tab(f"Variant {i}"):
                ins = [
                    gr.Textbox(label="Prompt"),
                    gr.Textbox(label="Negative prompt", value=""),
                    gr.Dropdown(["photo", "anime", "oil", "sketch"], label="Style", value="photo"),
                    gr.Slider(0, 1, value=0.8, label="Strength"),
                    gr.Slider(1, 50, value=20, step=1, label="Steps"),
                    gr.Checkbox(label="Upscale", value=False),
                ]
                out = gr.Image(label="Output", type="filepath")
                gr.Button("Run").click(_make_variant(i), ins, out, api_name=f"variant_{i}")
    return demo
