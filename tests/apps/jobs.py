"""acme/render-farm: a long, cancellable job (like a video render) that records whether it finished, was
cancelled or is still running, and a status endpoint to read that record."""

from __future__ import annotations

import asyncio

import gradio as gr

STATUS: dict[str, str] = {}


async def render(seconds: float = 60, tag: str = "") -> str:
    """Work for `seconds`; the app notes under `tag` whether the job ran to its end or was cancelled."""
    STATUS[tag] = "running"
    try:
        await asyncio.sleep(float(seconds))
    except asyncio.CancelledError:
        STATUS[tag] = "cancelled"
        raise
    STATUS[tag] = "finished"
    return f"rendered {tag}"


def status(tag: str) -> str:
    """What became of the render job tagged `tag`: running, finished, cancelled or unknown."""
    return STATUS.get(tag, "unknown")


def build_jobs() -> gr.Blocks:
    with gr.Blocks(title="Render farm") as demo:
        secs, tag, out = gr.Number(label="Seconds", value=60), gr.Textbox(label="Tag"), gr.Textbox(label="Result")
        gr.Button("render").click(render, [secs, tag], out, api_name="render")
        gr.Button("status").click(status, tag, gr.Textbox(label="Status"), api_name="status")
    return demo
