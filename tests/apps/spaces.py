"""Real Gradio apps shaped like popular Spaces, with cheap fake compute.

Run `python tests/apps/spaces.py [name ...]` to launch the named apps (default: all) on
free 127.0.0.1 ports in one process. It prints one JSON line {"name": "http://127.0.0.1:PORT"}
and then sleeps until killed. SPACECHAIN_TEST_DELAY (float seconds, default 0) scales
the fake compute time, so tests can make jobs overlap or time out on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import struct
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import gradio as gr
from gradio.utils import get_upload_folder
from PIL import Image, ImageDraw, PngImagePlugin

MAX_SEED = 2**31 - 1


def _delay(factor: float) -> None:
    """Sleep `factor` x SPACECHAIN_TEST_DELAY. The env var is read at call time so one process keeps one setting."""
    seconds = float(os.environ.get("SPACECHAIN_TEST_DELAY", "0") or 0) * factor
    if seconds > 0:
        time.sleep(seconds)


def _out_path(suffix: str) -> Path:
    # Files go under gradio's upload folder (GRADIO_TEMP_DIR) because gradio always allows that
    # folder, and the test's tmp dir removes it afterwards.
    folder = Path(get_upload_folder()) / "spacechain-out" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"out{suffix}"


def prompt_color(prompt: str) -> tuple[int, int, int]:
    """Deterministic colour for a prompt (sha256, not hash(): hash() is salted per process)."""
    d = hashlib.sha256(prompt.encode()).digest()
    return d[0], d[1], d[2]


def _png(color: tuple[int, int, int], size: tuple[int, int], text: str, meta: dict[str, str]) -> str:
    """Write a small PNG with a visible label and tEXt chunks so tests can tell which input made it."""
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).text((4, 4), text[:40], fill=(255 - color[0], 255 - color[1], 255 - color[2]))
    info = PngImagePlugin.PngInfo()
    for key, value in meta.items():
        info.add_text(key, value)
    path = _out_path(".png")
    img.save(path, pnginfo=info)
    return str(path)


# --------------------------------------------------------------------------- glTF


def make_glb(color: tuple[float, float, float], extras: dict[str, Any]) -> bytes:
    """A valid binary glTF 2.0 cube (24 vertices with flat normals, 36 indices).

    `extras` is stored in asset.extras so tests can see which input made the model.
    """
    positions: list[float] = []
    normals: list[float] = []
    indices: list[int] = []
    for axis in range(3):  # two faces per axis, flat normals need 4 own vertices per face
        for sign in (-1.0, 1.0):
            u, v = [a for a in range(3) if a != axis]
            base = len(positions) // 3
            corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
            for cu, cv in corners:
                p = [0.0, 0.0, 0.0]
                p[axis], p[u], p[v] = sign * 0.5, cu * 0.5, cv * 0.5
                positions += p
                n = [0.0, 0.0, 0.0]
                n[axis] = sign
                normals += n
            # Counter-clockwise when seen from outside: flip the winding on one side.
            quad = [0, 1, 2, 0, 2, 3] if (sign > 0) == (axis != 1) else [0, 2, 1, 0, 3, 2]
            indices += [base + i for i in quad]
    pos_bytes = struct.pack(f"<{len(positions)}f", *positions)
    nrm_bytes = struct.pack(f"<{len(normals)}f", *normals)
    idx_bytes = struct.pack(f"<{len(indices)}H", *indices)  # 72 bytes, already 4-aligned
    binary = pos_bytes + nrm_bytes + idx_bytes
    n_vert = len(positions) // 3
    gltf = {
        "asset": {"version": "2.0", "generator": "spacechain-test-apps", "extras": extras},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [*color, 1.0], "metallicFactor": 0.0}}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(pos_bytes), "target": 34962},
            {"buffer": 0, "byteOffset": len(pos_bytes), "byteLength": len(nrm_bytes), "target": 34962},
            {"buffer": 0, "byteOffset": len(pos_bytes) + len(nrm_bytes), "byteLength": len(idx_bytes), "target": 34963},
        ],
        "accessors": [
            # POSITION needs min/max by the spec; viewers use them for framing.
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": n_vert,
                "type": "VEC3",
                "min": [-0.5, -0.5, -0.5],
                "max": [0.5, 0.5, 0.5],
            },
            {"bufferView": 1, "componentType": 5126, "count": n_vert, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5123, "count": len(indices), "type": "SCALAR"},
        ],
    }
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)  # JSON chunk is padded with spaces, BIN chunk with zeros
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<I4s", len(js), b"JSON")
        + js
        + struct.pack("<I4s", len(binary), b"BIN\0")
        + binary
    )


def _write_glb(state: dict[str, Any], name: str, **extra: Any) -> str:
    color = tuple(c / 255 for c in state["color"])
    path = _out_path(".glb").with_name(name)
    path.write_bytes(make_glb(color, {"source_sha256": state["image_sha256"], "seed": state["seed"], **extra}))  # type: ignore[arg-type]
    return str(path)


# --------------------------------------------------------------------------- text2img


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
    _delay(1.0)
    if randomize_seed:
        seed = random.randint(0, MAX_SEED)
    meta = {"prompt": prompt, "seed": str(int(seed)), "steps": str(int(num_inference_steps))}
    return _png(prompt_color(prompt), (int(width), int(height)), prompt, meta), int(seed)


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


# --------------------------------------------------------------------------- img2_3d


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
    _delay(1.5)
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
    return new_state, _write_glb(new_state, "preview.glb", stage="preview")


def extract_glb(state: dict | None, decimation_target: float = 500000, texture_size: float = 2048) -> tuple[str, str]:
    """Extract a GLB file from the 3D model made by image_to_3d in the same session.

    Args:
        decimation_target: target number of faces
        texture_size: texture resolution
    """
    _delay(0.5)
    if not state:
        # Proves to tests that the session (session_hash) carried the State between calls.
        raise gr.Error("Generate a 3D model first")
    path = _write_glb(
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


# --------------------------------------------------------------------------- misc


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
        _delay(0.2)
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
        "You have exceeded your free ZeroGPU quota (60s requested vs. 56s left). Try again in 0:09:48. "
        "Authenticate with a Hugging Face token for more quota - https://huggingface.co/settings/tokens",
        title="ZeroGPU quota exceeded",
        print_exception=False,
    )


def slow(seconds: float = 5) -> str:
    """Sleep, then return 'done'."""
    time.sleep(float(seconds))
    return "done"


def noop() -> str:
    """Return 'ok' at once."""
    return "ok"


def gallery(n: int = 3) -> list[tuple[str, str]]:
    """Return n small PNGs with captions."""
    out = []
    for i in range(int(n)):
        caption = f"image {i}"
        out.append((_png(prompt_color(caption), (32, 32), caption, {"prompt": caption}), caption))
    return out


def files(files: list[str] | None) -> tuple[str, str]:
    """List names and sizes of the uploaded files; also return the listing as a file."""
    lines = [f"{Path(f).name} {Path(f).stat().st_size}" for f in files or []]
    text = "\n".join(lines)
    path = _out_path(".txt").with_name("listing.txt")
    path.write_text(text)
    return text, str(path)


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
        with gr.Tab("timing"):
            secs = gr.Number(label="Seconds", value=5)
            t_out = gr.Textbox(label="Result")
            gr.Button("slow").click(slow, secs, t_out, api_name="slow")
            gr.Button("noop").click(noop, None, t_out, api_name="noop")
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
    return demo


# --------------------------------------------------------------------------- big


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
        return _png(prompt_color(prompt), (32, 32), prompt, {"prompt": prompt, "variant": str(i)})

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


BUILDERS = {"text2img": build_text2img, "img2_3d": build_img2_3d, "misc": build_misc, "big": build_big}


def build_apps() -> dict[str, gr.Blocks]:
    return {name: build() for name, build in BUILDERS.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(names: list[str]) -> None:
    names = names or list(BUILDERS)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        sys.exit(f"unknown app(s): {unknown}; choose from {list(BUILDERS)}")
    urls: dict[str, str] = {}
    for name in names:
        port = _free_port()
        # show_error=False like most Spaces, so plain exceptions come back as {"error": null}.
        BUILDERS[name]().launch(
            server_name="127.0.0.1",
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            ssr_mode=False,
        )
        urls[name] = f"http://127.0.0.1:{port}"
    print(json.dumps(urls), flush=True)
    while True:  # servers run in daemon threads; the test harness kills our process group
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
