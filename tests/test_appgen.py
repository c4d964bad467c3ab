"""`spacechain app`: a recorded figurine-like run (a user photo → acme/trellis-lite, a prompt → acme/flux-lite)
made into a Gradio app folder, installed into a fresh venv, served, and driven by gradio_client, by Chromium
through Playwright, and pushed to the Hub stand-in."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from agent_support import make_planner
from artifacts_check import glb_source, sha256
from cli_support import SPACECHAIN, error_lines
from conftest import HUB_SCRIPT, TEST_TOKEN, default_hub_config, launch_apps
from PIL import Image
from scripted_model import code
from servers import free_port, start_process, stop_process

from spacechain.agent.appgen import generate_app, plan_app
from spacechain.tools import SpacechainError

CHROMIUM = "/usr/bin/chromium"
DATA = Path(__file__).resolve().parent / "data"
PROMPT = "a clay figurine, studio light"


def photo(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (40, 40), color).save(path)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Own slow copies of the test Spaces (so a run is visibly mid-way for a while) behind an own Hub stand-in."""
    tmp = tmp_path_factory.mktemp("appgen")
    apps, urls = launch_apps(["text2img", "img2_3d", "misc"], tmp / "gradio", delay=0.6)
    cfg = default_hub_config(urls, tmp / "h.log")
    (tmp / "hub.json").write_text(json.dumps(cfg))
    hub, ready = start_process([sys.executable, str(HUB_SCRIPT), str(tmp / "hub.json")], ready_timeout=30)
    env = {
        "HF_ENDPOINT": ready["url"],
        "HF_TOKEN": TEST_TOKEN,
        "HF_HOME": str(tmp / "hf_home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    yield {"tmp": tmp, "hub": ready["url"], "env": env}
    stop_process(hub)
    stop_process(apps)


@pytest.fixture(scope="module")
def recorded(stack: dict) -> Path:
    """A run made by a Planner with a scripted model: photo → image_to_3d → extract_glb, prompt → generate."""
    tmp = stack["tmp"]
    user_photo = photo(tmp / "photo.png", (200, 40, 40))
    src = (
        f'img = run_space("acme/flux-lite", "/generate", {{"prompt": "{PROMPT}", "seed": 7}})[0]\n'
        f'prev = run_space("acme/trellis-lite", "/image_to_3d", {{"image": "{user_photo}", "seed": 3}})\n'
        'glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]\nfinal_answer(glb)'
    )
    with pytest.MonkeyPatch.context() as mp:
        for k, v in stack["env"].items():
            mp.setenv(k, v)
        planner, run, _ = make_planner(tmp, [code(src)], goal="a figurine of my cat", files=[str(user_photo)])
        try:
            planner.turn("a figurine of my cat")
        finally:
            run.close()
    return run.dir


@pytest.fixture(scope="module")
def served(stack: dict, recorded: Path) -> Iterator[dict]:
    """The generated app installed into a fresh venv and started with `python app.py` on 127.0.0.1."""
    tmp = stack["tmp"]
    folder = generate_app(recorded, tmp / "app", title="Figurine studio", examples=[{"prompt": "a tin robot"}])
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    # CI time: the fresh venv sees this venv's packages (gradio is already here) through a .pth, so pip
    # downloads only what is missing (gradio's oauth extra). A .pth line adds a path without running the
    # .pth files in it, so the editable spacechain install stays invisible: the app must use its own copy.
    site = next((venv / "lib").glob("python3*/site-packages"))
    here = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "gradio").is_dir())
    (site / "parent-venv.pth").write_text(here + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(folder / "requirements.txt")], check=True, timeout=300)
    with start_app(venv, folder, stack["env"]) as app:
        yield {**app, "folder": folder, "venv": venv}


@contextlib.contextmanager
def start_app(venv: Path, folder: Path, stack_env: dict) -> Iterator[dict]:
    """`python app.py` of a generated folder, in `venv`, on a free port of 127.0.0.1; stopped by PID after."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SPACE_", "GRADIO_", "SPACECHAIN_", "PYTEST"))
    }
    env.update(stack_env, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), PYTHONUNBUFFERED="1")
    log_path = folder.parent / f"{folder.name}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), "app.py"], cwd=folder, env=env, stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/gradio_api/info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.3)
        else:
            pytest.fail("the generated app did not start: " + log_path.read_text()[-3000:])
        yield {"url": url, "env": env}
    finally:
        stop_process(proc)
        log.close()


def test_plan_exposes_the_user_photo_prompt_and_advanced_values(recorded: Path):
    spec = plan_app(json.loads((recorded / "manifest.json").read_text()))
    by_name = {i["name"]: i for i in spec["inputs"]}
    assert [i["name"] for i in spec["inputs"]][:2] == ["image", "prompt"]  # the upload, then the prompt
    assert by_name["image"]["kind"] == "image" and not by_name["image"]["advanced"]
    assert by_name["prompt"] == {**by_name["prompt"], "kind": "text", "value": PROMPT, "advanced": False}
    assert {by_name["seed_1"]["value"], by_name["seed_2"]["value"]} == {7, 3} and by_name["seed_1"]["advanced"]
    calls = spec["calls"]
    assert calls[1]["inputs"]["image"] == {"$input": "image"} and calls[0]["inputs"]["prompt"] == {"$input": "prompt"}
    assert [(o["call"], o["kind"]) for o in spec["outputs"]] == [(0, "image"), (1, "model3d"), (2, "model3d")]


def test_plan_escapes_marker_shaped_values_and_an_app_needs_a_user_input(tmp_path: Path):
    call = {"status": "complete", "space": "a/b", "endpoint": "/x", "session": "default", "files": []}
    manifest = {"goal": "g", "user_files": [], "calls": [{**call, "inputs": {"data": {"$ref": [0]}, "n": 2}}]}
    spec = plan_app(manifest)
    assert spec["calls"][0]["inputs"] == {"data": {"$lit": {"$ref": [0]}}, "n": {"$input": "n"}}
    assert spec["outputs"] == [{"call": 0, "path": [], "kind": "json", "label": "Result"}]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SpacechainError, match="no user file or prompt"):
        generate_app(tmp_path / "run", tmp_path / "app")
    assert not (tmp_path / "app").exists()


def test_generated_folder_is_a_space(served: dict, probed: dict):
    folder = served["folder"]
    card = (folder / "README.md").read_text()
    front = card.split("---\n")[1]
    for line in ('sdk: "gradio"', 'sdk_version: "6.31.0"', 'app_file: "app.py"', "hf_oauth: true", 'title: "Figurine'):
        assert line in front, front
    reqs = (folder / "requirements.txt").read_text().split()
    assert reqs[0] == "gradio[oauth]==6.31.0" and all("==" in r for r in reqs)
    assert not any(r.startswith(("litellm", "smolagents", "spacechain")) for r in reqs)
    assert (folder / "spacechain" / "tools" / "client.py").is_file() and not (folder / "spacechain" / "agent").exists()
    # The app runs on its own copy of the core and never loads the agent or an LLM library.
    where, loaded = probed["lines"][:2]
    assert where == str(folder / "spacechain" / "__init__.py") and loaded == "[]"
    examples = json.loads((folder / "app.json").read_text())["examples"]
    assert examples[0][:2] == ["examples/1-image.png", PROMPT] and examples[1][1] == "a tin robot"


PROBE = """
import os, sys
import gradio as gr
import app

app.build()
import spacechain
print(spacechain.__file__)
print([m for m in ("spacechain.agent", "litellm", "smolagents") if m in sys.modules])
os.environ["SPACE_ID"] = "me/figurines"  # as on a Space; HF_TOKEN (the owner's) stays set
try:
    next(app.run_chain(None, sys.argv[1], "x", 7, 3, gr.Progress()))
except gr.Error as exc:
    print(exc.message)
visitor = gr.OAuthToken(token="hf_visitor_token", scope="openid profile", expires_at=0)
print(list(app.run_chain(visitor, sys.argv[1], "x", 7, 3, gr.Progress()))[-1][0])
"""


@pytest.fixture(scope="module")
def probed(stack: dict, served: dict) -> dict:
    """The app imported in its venv (one gradio start for both checks): what it loaded, and a run as on a
    Space, first without a signed-in visitor, then with one; the Hub's log of that run's headers."""
    log = stack["tmp"] / "h.log"
    log.write_text("")
    out = subprocess.run(
        [str(served["venv"] / "bin" / "python"), "-c", PROBE, str(photo(stack["tmp"] / "v.png", (9, 9, 9)))],
        cwd=served["folder"],
        env=served["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    return {"lines": out.stdout.strip().split("\n")[-4:], "requests": seen}


def test_on_a_space_calls_go_with_the_visitors_token_only(probed: dict):
    asked, done = probed["lines"][2:]
    assert asked.startswith("Sign in with Hugging Face") and done.startswith("Done in")
    # Gradio's local sign-in mock asks whoami with the machine's token when the app starts; every
    # request the visitor's run made went with the visitor's token: never the owner's, never anonymous.
    run = [r for r in probed["requests"] if r["path"] != "/api/whoami-v2"]
    assert run and {r["headers"].get("authorization") for r in run} == {"Bearer hf_visitor_token"}


def run_app(url: str, image: Path, prompt: str) -> list:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/run"]["parameters"]
    assert [(p["parameter_name"], p["parameter_has_default"]) for p in params] == [
        ("image", False),
        ("prompt", True),
        ("seed_1", True),
        ("seed_2", True),
    ]  # one named endpoint: the upload, the prompt, the recorded values as defaults
    job = client.submit(image=handle_file(str(image)), prompt=prompt, api_name="/run")
    job.result(timeout=120)
    return job.outputs()


def test_gradio_client_gets_each_stage_and_the_visitors_photo_byte_for_byte(served: dict, tmp_path: Path):
    new_photo = photo(tmp_path / "mine.png", (20, 160, 90))
    yields = run_app(served["url"], new_photo, "a wooden owl")
    image_at = next(n for n, y in enumerate(yields) if isinstance(y[1], str))  # a skip() is an update dict
    glb_at = next(n for n, y in enumerate(yields) if isinstance(y[3], str))
    assert image_at < glb_at  # the portrait is shown before the 3D model exists
    assert Image.open(yields[image_at][1]).text["prompt"] == "a wooden owl"
    assert glb_source(yields[glb_at][3]) == sha256(new_photo)  # the Space got the visitor's bytes unchanged
    assert yields[-1][0].startswith("Done in")


def sound(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\x00\x01" * int(8000 * seconds))
    return path


@pytest.fixture(scope="module")
def audio_app(stack: dict, served: dict) -> Iterator[dict]:
    """A second app, from a run whose user file is a recording (→ acme/toolbox /count_upload), served from the
    same venv."""
    tmp = stack["tmp"]
    recording = sound(tmp / "memo.wav", 0.25)
    src = f'n = run_space("acme/toolbox", "/count_upload", {{"file": "{recording}"}})[0]\nfinal_answer(n)'
    with pytest.MonkeyPatch.context() as mp:
        for k, v in stack["env"].items():
            mp.setenv(k, v)
        planner, run, _ = make_planner(tmp / "audio-run", [code(src)], goal="measure my memo", files=[str(recording)])
        try:
            planner.turn("measure my memo")
        finally:
            run.close()
    folder = generate_app(run.dir, tmp / "audio_app")
    with start_app(served["venv"], folder, stack["env"]) as app:
        yield {**app, "folder": folder}


def test_a_visitors_recording_goes_in_an_audio_input_to_the_space(audio_app: dict, tmp_path: Path):
    from gradio_client import Client, handle_file

    spec = json.loads((audio_app["folder"] / "app.json").read_text())
    assert [(i["name"], i["kind"]) for i in spec["inputs"]] == [("file", "audio")]  # a player, not a file box
    visitor = sound(tmp_path / "mine.wav", 0.6)  # another length than the recorded one: a new size
    client = Client(audio_app["url"], verbose=False)
    job = client.submit(file=handle_file(str(visitor)), api_name="/run")
    job.result(timeout=120)
    assert spec["outputs"] == [{"call": 0, "path": [0], "kind": "text", "label": "Result"}]  # its text, not JSON
    results = [y[1] for y in job.outputs() if isinstance(y[1], str)]
    assert results[-1:] == [str(visitor.stat().st_size)]  # the Space measured the visitor's file, unchanged


def test_two_visitors_at_once_get_their_own_results(served: dict, tmp_path: Path):
    photos = [photo(tmp_path / f"p{n}.png", (30 * n, 200 - 40 * n, 90)) for n in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: run_app(served["url"], p, p.stem), photos))
    for p, yields in zip(photos, results):
        final = next(y[3] for y in reversed(yields) if isinstance(y[3], str))
        assert glb_source(final) == sha256(p)


def test_errors_are_one_line_in_the_page(stack: dict, served: dict, tmp_path: Path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        Client(served["url"], verbose=False).predict(None, "x", 7, 3, api_name="/run")
    assert str(info.value) == "Add Image first." and "\n" not in str(info.value)
    config = json.loads((stack["tmp"] / "hub.json").read_text())
    next(s for s in config["spaces"] if s["id"] == "acme/flux-lite")["stage"] = "RUNTIME_ERROR"
    httpx.post(f"{stack['hub']}/__config", json=config, timeout=10).raise_for_status()
    try:
        with pytest.raises(AppError) as info:
            run_app(served["url"], photo(tmp_path / "e.png", (1, 2, 3)), "x")
    finally:
        config["spaces"][0]["stage"] = "RUNNING"
        httpx.post(f"{stack['hub']}/__config", json=config, timeout=10).raise_for_status()
    assert "acme/flux-lite" in str(info.value) and "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_in_chromium_the_image_shows_before_the_3d_viewer(served: dict, tmp_path: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser test needs Debian's Chromium at {CHROMIUM}")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    new_photo = photo(tmp_path / "browser.png", (240, 200, 20))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(served["url"], wait_until="networkidle")
            page.locator("#input-image input[type=file]").set_input_files(str(new_photo))
            page.locator("#input-prompt textarea").fill("a brass lion")
            page.locator("#input-image img").wait_for(timeout=20_000)
            page.locator("#run").click()
            page.locator("#output-0 img").wait_for(timeout=30_000)
            assert page.locator("#output-2 canvas").count() == 0  # the image is there, the 3D model not yet
            page.screenshot(path=str(tmp_path / "app.png"))
            page.locator("#output-2 canvas").wait_for(timeout=30_000)
            page.get_by_text("Done in").wait_for(timeout=30_000)
            assert page.locator("#output-2 canvas").is_visible()  # the final skip() leaves the viewer up
        finally:
            browser.close()
    if os.environ.get("SPACECHAIN_UPDATE_SCREENSHOT") == "1":  # the README's picture, made by this test
        (DATA / "app.png").write_bytes((tmp_path / "app.png").read_bytes())


def test_cli_app_and_push_to_the_hub_stand_in(stack: dict, recorded: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SPACECHAIN_", "PYTEST"))}
    env.update(stack["env"], NO_COLOR="1")
    out = tmp_path / "space"
    boat = photo(tmp_path / "boat.png", (10, 10, 200))
    args = [SPACECHAIN, "app", str(recorded), "-o", str(out), "--push", "me/figurines", "--private"]
    res = subprocess.run([*args, "--example", f"image={boat}; prompt=a boat"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    examples = json.loads((out / "app.json").read_text())["examples"]
    assert examples[1] == ["examples/2-image.png", "a boat", 7, 3] and sha256(out / examples[1][0]) == sha256(boat)
    assert res.stdout.strip() == f"{stack['hub']}/spaces/me/figurines"
    repo = httpx.get(f"{stack['hub']}/__repos").json()["me/figurines"]
    assert repo["type"] == "space" and repo["sdk"] == "gradio" and repo["private"] is True
    local = {str(p.relative_to(out)): sha256(p) for p in out.rglob("*") if p.is_file() and "__pycache__" not in str(p)}
    assert repo["files"] == local and "app.py" in local and "spacechain/tools/client.py" in local
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)  # an update, not an error
    assert again.returncode == 0, again.stderr
    assert len(httpx.get(f"{stack['hub']}/__repos").json()["me/figurines"]["commits"]) == 2
    for bad in (
        [SPACECHAIN, "app", str(recorded), "-o", str(tmp_path / "x"), "--example", "nosuch=1"],
        [SPACECHAIN, "app", str(recorded), "-o", str(tmp_path / "y"), "--push", "not a repo"],
        [SPACECHAIN, "app", str(tmp_path / "nope"), "-o", str(tmp_path / "z")],
    ):
        res = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode != 0 and len(error_lines(res.stderr)) == 1 and "Traceback" not in res.stderr, res.stderr
