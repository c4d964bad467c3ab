"""acme/flux-lite: a fake FLUX text-to-image app (a flat colour derived from the prompt)."""

from __future__ import annotations

import random

import gradio as gr
from apps.media import MAX_SEED, delay, prompt_color, write_png


def generate(
    prompt: str,
    seed: int = 0,
    randomize_seed: bool = False,
    width: int = 256,
    height: int = 256,
    guidance_scale: float = 3.5,
    num_inference_steps: int = 4,
) -> tuple[str, int]:
    """Generate an image from a text prompt (fake FLUX: a flat colour derived from the prompt).

    Args:
        prompt: what to draw
        seed: random seed, ignored when randomize_seed is true
        randomize_seed: pick a new random seed
        width: image width in pixels
        height: image height in pixels
        guidance_scale: how closely to follow the prompt
        num_inference_steps: number of denoising steps
    """
    delay(1.0)
    if randomize_seed:
        seed = random.randint(0, MAX_SEED)
    meta = {"prompt": prompt, "seed": str(int(seed)), "steps": str(int(num_inference_steps))}
    return write_png(prompt_color(prompt), (int(width), int(height)), prompt, meta), int(seed)


def build_text2img() -> gr.Blocks:
    with gr.Blocks(title="FLUX lite") as demo:
        gr.Markdown("# FLUX lite\nFake text-to-image for tests.")
        prompt = gr.Textbox(label="Prompt", placeholder="Enter your prompt")
        with gr.Accordion("Advanced Settings", open=False):
            seed = gr.Slider(label="Seed", minimum=0, maximum=MAX_SEED, step=1, value=0)
            randomize = gr.Checkbox(label="Randomize seed", value=False)
            width = gr.Slider(label="Width", minimum=64, maximum=1024, step=32, value=256)
            height = gr.Slider(label="Height", minimum=64, maximum=1024, step=32, value=256)
            guidance = gr.Slider(label="Guidance Scale", minimum=1, maximum=15, step=0.1, value=3.5)
            steps = gr.Slider(label="Number of inference steps", minimum=1, maximum=50, step=1, value=4)
        result = gr.Image(label="Result", type="filepath", format="png")
        btn = gr.Button("Run")
        btn.click(
            generate, [prompt, seed, randomize, width, height, guidance, steps], [result, seed], api_name="generate"
        )
    return demo
