"""acme/toolbox: small endpoints for the client's edge cases (types, streams, errors, timing, files)."""

from __future__ import annotations

import math
import struct
import time
import wave
from pathlib import Path
from typing import Any, Iterator

import gradio as gr
from apps.media import QUOTA_MESSAGE, delay, out_path, prompt_color, write_png


def echo(
    text: str,
    number: float = 1.5,
    count: int = 2,
    flag: bool = False,
    choice: str = "a",
    tags: list[str] | None = None,
    data: Any = None,
) -> dict[str, Any]:
    """Return every received value with its Python type name."""
    got = {"text": text, "number": number, "count": count, "flag": flag, "choice": choice, "tags": tags, "data": data}
    return {k: {"value": v, "type": type(v).__name__} for k, v in got.items()}


def stream(steps: int = 5) -> Iterator[str]:
    """Yield 'step 0' .. 'step N-1'."""
    for i in range(int(steps)):
        delay(0.2)
        yield f"step {i}"


def fail(prompt: str = "") -> str:
    """Always raises a visible gr.Error."""
    raise gr.Error("Prompt is empty; write something", title="Bad prompt")


def hidden_fail() -> str:
    """Raises a plain exception; show_error=False hides its message."""
    raise ValueError("secret detail")


def quota() -> str:
    """Raises the ZeroGPU quota error exactly like the `spaces` package does."""
    raise gr.Error(
        QUOTA_MESSAGE,
        title="ZeroGPU quota exceeded",
        print_exception=False,
    )


_REFUSED: dict[str, int] = {}  # calls refused so far, per key


def gpu_busy(key: str, refusals: int = 1) -> str:
    """Refuse the first `refusals` calls with this key as ZeroGPU does when no GPU frees up in time (the
    `spaces` package's error: the job did not run), then return 'ran after N refusals'."""
    refused = _REFUSED.get(key, 0)
    if refused < int(refusals):
        _REFUSED[key] = refused + 1
        raise gr.Error(
            "No GPU was available after 60s. Try re-running outside of examples",
            title="ZeroGPU queue timeout",
            print_exception=False,
        )
    return f"ran after {refused} refusals"


def slow(seconds: float = 5) -> str:
    """Sleep, then return 'done'."""
    time.sleep(float(seconds))
    return "done"


def ticks(seconds: float = 5) -> Iterator[str]:
    """Yield every 0.1 s for `seconds`, then 'done': a long job Gradio can stop between yields (a plain
    function's thread cannot be stopped, so a cancelled /slow keeps the endpoint busy)."""
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        time.sleep(0.1)
        yield "running"
    yield "done"


def noop() -> str:
    """Return 'ok' at once."""
    return "ok"


def gallery(n: int = 3) -> list[tuple[str, str]]:
    """Return n small PNGs with captions."""
    out = []
    for i in range(int(n)):
        caption = f"image {i}"
        out.append((write_png(prompt_color(caption), (32, 32), caption, {"prompt": caption}), caption))
    return out


def files(files: list[str] | None) -> tuple[str, str]:
    """List names and sizes of the uploaded files; also return the listing as a file."""
    lines = [f"{Path(f).name} {Path(f).stat().st_size}" for f in files or []]
    text = "\n".join(lines)
    path = out_path(".txt").with_name("listing.txt")
    path.write_text(text)
    return text, str(path)


def tone(seconds: float = 0.5) -> str:
    """A 440 Hz tone of `seconds` as a WAV file."""
    rate = 8000
    path = out_path(".wav").with_name("tone.wav")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        frames = (int(12000 * math.sin(2 * math.pi * 440 * t / rate)) for t in range(int(rate * float(seconds))))
        w.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return str(path)


def count_upload(file: str) -> str:
    """Return the size of the uploaded file in bytes."""
    return str(Path(file).stat().st_size)


def build_misc() -> gr.Blocks:
    with gr.Blocks(title="Toolbox") as demo:
        with gr.Tab("echo"):
            e_in = [
                gr.Textbox(label="Text"),
                gr.Number(label="Number", value=1.5),
                gr.Number(label="Count", value=2, precision=0),
                gr.Checkbox(label="Flag", value=False),
                gr.Dropdown(["a", "b", "c"], label="Choice", value="a"),
                gr.CheckboxGroup(["x", "y", "z"], label="Tags"),
                gr.JSON(label="Data"),
            ]
            e_out = gr.JSON(label="Received")
            gr.Button("echo").click(echo, e_in, e_out, api_name="echo")
        with gr.Tab("stream"):
            s_steps = gr.Number(label="Steps", value=5, precision=0)
            s_out = gr.Textbox(label="Progress")
            gr.Button("stream").click(stream, s_steps, s_out, api_name="stream")
        with gr.Tab("errors"):
            f_prompt = gr.Textbox(label="Prompt", value="")
            err_out = gr.Textbox(label="Output")
            gr.Button("fail").click(fail, f_prompt, err_out, api_name="fail")
            gr.Button("hidden").click(hidden_fail, None, err_out, api_name="hidden_fail")
            gr.Button("quota").click(quota, None, err_out, api_name="quota")
            g_key, g_refusals = gr.Textbox(label="Key"), gr.Number(label="Refusals", value=1, precision=0)
            gr.Button("gpu busy").click(gpu_busy, [g_key, g_refusals], err_out, api_name="gpu_busy")
        with gr.Tab("timing"):
            secs = gr.Number(label="Seconds", value=5)
            t_out = gr.Textbox(label="Result")
            gr.Button("slow").click(slow, secs, t_out, api_name="slow")
            gr.Button("noop").click(noop, None, t_out, api_name="noop")
            gr.Button("ticks").click(ticks, secs, t_out, api_name="ticks")
        with gr.Tab("files"):
            n = gr.Number(label="N", value=3, precision=0)
            gal = gr.Gallery(label="Gallery")
            gr.Button("gallery").click(gallery, n, gal, api_name="gallery")
            many = gr.File(label="Files", file_count="multiple")
            listing, listing_file = gr.Textbox(label="Listing"), gr.File(label="Listing file")
            gr.Button("files").click(files, many, [listing, listing_file], api_name="files")
            one = gr.File(label="File")
            size = gr.Textbox(label="Size")
            gr.Button("count").click(count_upload, one, size, api_name="count_upload")
            tone_secs = gr.Number(label="Tone seconds", value=0.5)
            gr.Button("tone").click(tone, tone_secs, gr.Audio(label="Tone", type="filepath"), api_name="tone")
    return demo
