"""The studio in a real browser: `spacechain ui` in a subprocess on 127.0.0.1, its LLM the scripted
OpenAI-compatible server (tests/llm_stub.py), its Spaces the loopback apps behind the Hub stand-in, the
page driven by Playwright with Debian's chromium.

The tests share one studio and one page and run in file order, as a person would use it: a goal with a
photo, a second goal in the same conversation, a Stop, then a past run re-run with a new photo."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from conftest import TEST_TOKEN
from studio_support import (
    ARTIFACTS,
    PhotoStub,
    Studio,
    blob,
    canvas_has_model,
    glb_extras,
    manifests,
    open_page,
    png,
    run_goal,
    upload,
    wait_status,
)

GOAL = "turn my photo into a 3D figurine"


FIGURINE = [
    blob(
        'img = run_space("acme/flux-lite", "/generate", {"prompt": "a studio portrait"})[0]\nprint(img)',
        "Make a portrait first.",
    ),
    blob(
        'prev = run_space("acme/trellis-lite", "/image_to_3d", {"image": "{PHOTO}"})\n'
        'glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]\nprint(glb)',
        "Now the 3D model from the photo.",
    ),
    blob('final_answer("Your figurine is ready: " + glb)', "Done."),
]


@pytest.fixture(scope="module")
def studio(hub, tmp_path_factory):
    stub = PhotoStub(FIGURINE).start()
    s = Studio(hub.url, stub, tmp_path_factory.mktemp("studio"))
    yield s
    s.stop()
    stub.stop()


@pytest.fixture(scope="module")
def page(studio):
    bodies: list[bytes] = []

    def keep(response) -> None:
        try:
            bodies.append(response.url.encode() + b"\n" + str(response.headers).encode() + b"\n" + response.body())
        except Exception:
            bodies.append(response.url.encode())  # a stream still open: its events are checked below

    with open_page(studio.url, keep) as pg:
        pg.bodies = bodies  # type: ignore[attr-defined]
        yield pg


def test_goal_with_photo_shows_each_output_as_it_comes(studio, page, tmp_path):
    photo = png(tmp_path / "photo.png", (200, 40, 40))
    studio.stub.replies, studio.stub.delay_s = list(FIGURINE), 2.0
    upload(page, "#files", photo)
    run_goal(page, GOAL)

    # The portrait is on the page while the 3D model is still being made.
    page.locator("#image-0 img").wait_for(state="visible", timeout=40_000)
    assert not page.locator("#model3d-0").is_visible() and page.locator("canvas").count() == 0
    assert "acme/flux-lite /generate" in page.locator("#image-0").inner_text()
    page.screenshot(path=str(ARTIFACTS / "studio-midrun.png"), full_page=True)
    wait_status(page, r"turn 1 done")
    assert page.locator("#answer textarea").input_value().startswith("Your figurine is ready: ")
    assert re.fullmatch(
        r"ZeroGPU: 0 GPU-seconds used; 300 of 300 s left", page.locator("#quota textarea").input_value()
    )
    assert "acme/trellis-lite /extract_glb" in page.locator("#model3d-1").inner_text()
    # Once the turn has written them, the results' cards name their readable copies in results/.
    page.locator("#model3d-1 .sc-chain b", has_text=re.compile(r"^photo\.glb$")).wait_for()
    page.locator("#image-0 .sc-chain b", has_text=re.compile(r"^a-studio-portrait\.png$")).wait_for()
    assert page.locator("#model3d-0 .sc-chain b").inner_text().startswith("image_to_3d-preview-")  # not a result
    # The gallery's timeline of the calls, one lane per Space, under the calls table.
    timeline = page.locator("#calls .sc-timeline svg")
    timeline.first.wait_for()
    assert "acme/flux-lite" in timeline.first.inner_html() and "acme/trellis-lite" in timeline.first.inner_html()
    page.screenshot(path=str(ARTIFACTS / "studio-done.png"), full_page=True)
    assert canvas_has_model(page, "#model3d-1")
    # Steps are folded: thought in the summary, code inside.
    assert page.locator("#steps details").count() == 3
    assert "Make a portrait first." in page.locator("#steps summary").first.inner_text()
    assert not page.locator("#steps pre").first.is_visible()

    # The turn wrote the run folder: manifest and gallery, before the studio exits.
    ((name, m),) = manifests(studio.out).items()
    assert m["turns"][0]["status"] == "success" and (studio.out / name / "gallery.html").is_file()
    assert [c["endpoint"] for c in m["calls"]] == ["/generate", "/image_to_3d", "/extract_glb"]
    user = m["user_files"][0]
    assert Path(user["path"]).parent == studio.out / name / "inputs" and Path(user["path"]).name == "photo.png"
    assert user["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert glb_extras(m["calls"][2]["outputs"][0])["source_sha256"] == user["sha256"]
    assert sorted(e["name"] for e in m["results"]) == ["a-studio-portrait.png", "photo.glb"]
    assert (studio.out / name / "results" / "photo.glb").read_bytes() == Path(m["calls"][2]["outputs"][0]).read_bytes()


def test_second_goal_continues_the_conversation(studio, page):
    studio.stub.delay_s = 0
    studio.stub.replies = [
        blob('run_space("acme/broken", "/predict", {"x": 1})', "Try a Space that is down."),
        blob('final_answer("Your first goal was the figurine")'),
    ]
    before = len(studio.stub.requests)
    run_goal(page, "what was my first goal?")
    wait_status(page, r"turn 2 done")
    assert page.locator("#answer textarea").input_value() == "Your first goal was the figurine"
    assert GOAL in json.dumps(studio.stub.requests[before]["messages"])  # memory: turn 1 is in turn 2's prompt
    # The Space that is down is one line in its step, never a stack trace.
    error = page.locator("#steps .sc-error").first.inner_text()
    assert "acme/broken" in error and "\n" not in error.strip() and "Traceback" not in page.content()
    # The outputs of turn 1 stay on the page.
    assert page.locator("#image-0 img").is_visible()
    (m,) = manifests(studio.out).values()
    assert [t["status"] for t in m["turns"]] == ["success", "success"]


def test_stop_cancels_a_slow_call_and_ends_the_turn(studio, page):
    studio.stub.replies = [
        blob('print(run_space("acme/toolbox", "/slow", {"seconds": 30}))', "Wait for the slow one."),
        blob('final_answer("not reached")'),
    ]
    run_goal(page, "run the slow tool")
    page.locator('#calls tr[data-state="running"], #calls tr[data-state="waiting"]').first.wait_for()
    assert not page.locator("#run").is_enabled()
    # Mid-run, with turn 1's portrait and 3D models on the page: the README's picture (tests/data/studio.png).
    assert canvas_has_model(page, "#model3d-1")
    page.screenshot(path=str(ARTIFACTS / "studio-midrun-3d.png"), full_page=True)
    started = time.monotonic()
    page.locator("#stop").click()
    wait_status(page, r"turn 3 interrupted", timeout=20)
    assert time.monotonic() - started < 15
    page.locator("#calls tr[data-state='cancelled']").first.wait_for()
    # Ready for the next goal once the worker has written the gallery (a tick after the status may say so).
    page.locator("#run:not([disabled])").wait_for(timeout=10_000)
    assert page.locator("#run").is_enabled()
    (m,) = manifests(studio.out).values()
    assert m["turns"][2]["status"] == "interrupted"
    assert len(m["user_files"]) == 1  # the photo still in the upload box is not copied again each turn
    assert page.locator("#steps details").count() == 1  # the step the Stop cut, not the one it prevented
    slow = [c for c in m["calls"] if c["endpoint"] == "/slow"][0]
    assert slow["status"] == "error" and "cancelled" in slow["error"]["message"]
    assert page.locator("#image-0 img").is_visible()  # what was made stays


def test_errors_are_one_line_and_the_server_keeps_running(studio, page):
    run_goal(page, "   ")
    assert wait_status(page, r"^error: Type a goal first").count("\n") == 0
    page.locator("#model textarea").fill("hf:acme/some-model")
    page.locator("#switch-model").click()
    assert "\n" not in wait_status(page, r"^error: hf: models run on HF Inference Providers and take no --api-base")
    page.locator("#model textarea").fill("openai/scripted")
    page.locator("#switch-model").click()
    wait_status(page, r"^model: openai/scripted$")
    assert httpx.get(studio.url, timeout=10).status_code == 200


def test_past_run_again_with_a_new_photo(studio, page, tmp_path):
    (first,) = manifests(studio.out)
    page.locator("#new-session").click()
    wait_status(page, "new session")
    assert not page.locator("#image-0").is_visible()
    page.get_by_text("Past runs").click()
    page.locator("#refresh-runs").click()
    page.locator("#past input").click()
    page.get_by_role("option", name=first).click()
    page.locator("#open-run").click()
    wait_status(page, f"opened {first}")
    page.locator("#image-0 img").wait_for(state="visible")
    assert "1.prompt=a studio portrait" in page.locator("#sets textarea").input_value()

    new_photo = png(tmp_path / "new-photo.png", (30, 90, 220))
    page.locator("#sets textarea").fill("1.prompt=a new portrait")
    upload(page, "#replay-files", new_photo)
    page.locator("#replay").click()
    wait_status(page, r"turn 1 done")
    assert canvas_has_model(page, "#model3d-1")

    replays = {k: v for k, v in manifests(studio.out).items() if k != first}
    ((name, m),) = replays.items()
    assert m["model"] == "replay (no LLM)" and m["status"] == "success"
    assert (studio.out / name / "gallery.html").is_file()
    gen, to3d, extract = m["calls"]
    assert gen["inputs"]["prompt"] == "a new portrait"
    sent = Path(to3d["inputs"]["image"])
    assert sent.parent == studio.out / name / "inputs" and sent.read_bytes() == new_photo.read_bytes()
    # The image Space received the new photo byte for byte (it records the sha256 of what it got).
    assert glb_extras(extract["outputs"][0])["source_sha256"] == hashlib.sha256(new_photo.read_bytes()).hexdigest()


def test_a_new_session_is_a_new_run_without_the_old_memory(studio, page):
    before = manifests(studio.out)
    page.locator("#new-session").click()
    wait_status(page, "new session")
    studio.stub.delay_s, studio.stub.replies = 0, [blob('final_answer("nothing before this")')]
    asked = len(studio.stub.requests)
    run_goal(page, "what was my first goal?")
    wait_status(page, r"turn 1 done")
    assert page.locator("#answer textarea").input_value() == "nothing before this"
    assert GOAL not in json.dumps(studio.stub.requests[asked:])  # the figurine turn is not in its prompt
    ((name, m),) = {k: v for k, v in manifests(studio.out).items() if k not in before}.items()
    assert m["goal"] == "what was my first goal?" and [t["status"] for t in m["turns"]] == ["success"]
    assert (studio.out / name / "gallery.html").is_file()


def test_an_audio_output_plays_in_its_card(studio, page):
    studio.stub.replies = [
        blob('print(run_space("acme/toolbox", "/tone", {"seconds": 0.5}))', "Make a tone."),
        blob('final_answer("a tone")'),
    ]
    run_goal(page, "make me a short tone")
    wait_status(page, r"turn 2 done")
    card = page.locator("#audio-0")
    card.wait_for(state="visible")
    assert "acme/toolbox /tone" in card.inner_text()
    # The player decoded the file: it shows the tone's length (0.5 s, shown rounded up), which only the
    # browser's decoding of the WAV can tell.
    card.get_by_text("0:01").first.wait_for(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "studio-audio.png"), full_page=True)
    # What the page plays is the run's own file, byte for byte.
    (m,) = [v for v in manifests(studio.out).values() if v["goal"] == "what was my first goal?"]
    made = Path([c for c in m["calls"] if c["endpoint"] == "/tone"][0]["outputs"][0])
    served = httpx.get(card.locator("a[data-testid=download-link]").first.get_attribute("href"), timeout=10)
    assert served.status_code == 200 and served.content == made.read_bytes()


def test_no_token_reaches_the_page(studio, page):
    seen = b"\n".join(page.bodies) + page.content().encode()
    for path in ("/", "/config", "/gradio_api/info"):
        seen += httpx.get(studio.url + path, timeout=10).content
    assert len(page.bodies) > 10
    assert b"process_completed" in seen  # the event streams that carried every update were read too
    assert TEST_TOKEN.encode() not in seen
    assert "Traceback" not in studio.err_text()
