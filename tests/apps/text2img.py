"""acme/flux-lite: a fake FLUX text-to-image app (a flat colour derived from the prompt).

Variants, as copies of a popular Space are on the Hub: "quota" has the same API but every call meets a spent
ZeroGPU quota; "v2" is a copy whose app changed its signature (a negative prompt, no guidance)."""

from __future__ import annotations

import random

import gradio as gr
from apps.media import MAX_SEED, QUOTA_MESSAGE, delay, log_call, prompt_color, write_png

FLAGGED = "flagged"  # a prompt holding this word is refused by the fake safety checker


def generate(
    prompt: str,
    seed: int = 0,
    randomize_seed: bool = False,
    width: int = 256,
    height: int = 256,
    guidance_scale: float = 3.5,
    num_inference_steps: int = 4,
    request: gr.Request = None,  # type: ignore[assignment]  # gradio fills it; not part of the API
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
    _log(request, prompt)
    if FLAGGED in prompt.lower():
        raise gr.Error("The safety checker flagged this prompt; rephrase it.", title="Prompt flagged")
    delay(1.0)
    if randomize_seed:
        seed = random.randint(0, MAX_SEED)
    meta = {"prompt": prompt, "seed": str(int(seed)), "steps": str(int(num_inference_steps))}
    return write_png(prompt_color(prompt), (int(width), int(height)), prompt, meta), int(seed)


def generate_quota(
    prompt: str,
    seed: int = 0,
    randomize_seed: bool = False,
    width: int = 256,
    height: int = 256,
    guidance_scale: float = 3.5,
    num_inference_steps: int = 4,
    request: gr.Request = None,  # type: ignore[assignment]
) -> tuple[str, int]:
    """Generate an image from a text prompt (on ZeroGPU, with the user's quota spent)."""
    _log(request, prompt)
    raise gr.Error(QUOTA_MESSAGE, title="ZeroGPU quota exceeded", print_exception=False)


def generate_v2(
    prompt: str,
    negative_prompt: str = "",
    seed: int = 0,
    width: int = 256,
    height: int = 256,
    request: gr.Request = None,  # type: ignore[assignment]
) -> tuple[str, int]:
    """Generate an image from a text prompt, avoiding the negative prompt (a copy that changed its API)."""
    _log(request, prompt)
    delay(1.0)
    return write_png(prompt_color(prompt), (int(width), int(height)), prompt, {"prompt": prompt}), int(seed)


def _log(request: gr.Request | None, prompt: str) -> None:
    host = request.headers.get("host", "?") if request is not None else "?"
    log_call(host, "/generate", prompt=prompt)


def build_text2img(variant: str = "ok") -> gr.Blocks:
    with gr.Blocks(title="FLUX lite") as demo:
        gr.Markdown("# FLUX lite\nFake text-to-image for tests.")
        prompt = gr.Textbox(label="Prompt", placeholder="Enter your prompt")
        with gr.Accordion("Advanced Settings", open=False):
            negative = gr.Textbox(label="Negative prompt", visible=variant == "v2")
            seed = gr.Slider(label="Seed", minimum=0, maximum=MAX_SEED, step=1, value=0)
            randomize = gr.Checkbox(label="Randomize seed", value=False)
            width = gr.Slider(label="Width", minimum=64, maximum=1024, step=32, value=256)
            height = gr.Slider(label="Height", minimum=64, maximum=1024, step=32, value=256)
            guidance = gr.Slider(label="Guidance Scale", minimum=1, maximum=15, step=0.1, value=3.5)
            steps = gr.Slider(label="Number of inference steps", minimum=1, maximum=50, step=1, value=4)
        result = gr.Image(label="Result", type="filepath", format="png")
        btn = gr.Button("Run")
        if variant == "v2":
            btn.click(generate_v2, [prompt, negative, seed, width, height], [result, seed], api_name="generate")
        else:
            fn = generate_quota if variant == "quota" else generate
            inputs = [prompt, seed, randomize, width, height, guidance, steps]
            btn.click(fn, inputs, [result, seed], api_name="generate")
    return demo
