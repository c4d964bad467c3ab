"""The studio's 3D cards render whatever update their file arrives in: here a chain whose only 3D file comes from
its last call (an image → a TRELLIS.2-like /image_to_3d that makes no 3D file → /extract_glb), then the answer at
once, so the .glb reaches the page in the turn's last update, on a page that has shown no 3D model before."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
from studio_support import ARTIFACTS, Studio, blob, canvas_has_model, manifests, open_page, run_goal, wait_status

LAST_CALL_3D = [
    blob(
        'img = run_space("acme/flux-lite", "/generate", {"prompt": "a bronze figurine"})[0]\n'
        'run_space("acme/trellis2-lite", "/image_to_3d", {"image": img})\n'
        'glb = run_space("acme/trellis2-lite", "/extract_glb", {})[0]\n'
        'final_answer("Your model: " + glb)',
        "Image, then 3D, then the answer.",
    ),
]


@pytest.fixture
def studio(hub_env, app_launcher, llm, tmp_path):
    """The studio, with acme/trellis2-lite on the Hub stand-in (hub_env puts the Hub back afterwards)."""
    url = app_launcher(["trellis2"])["trellis2"]
    config = copy.deepcopy(hub_env.default_config)
    like = next(s for s in config["spaces"] if s["id"] == "acme/trellis-lite")
    config["spaces"].append({**like, "id": "acme/trellis2-lite", "host": url, "sha": "2" * 40})
    hub_env.set_config(config)
    s = Studio(hub_env.url, llm(LAST_CALL_3D), tmp_path)
    yield s
    s.stop()


def requested_within(page, name: str, timeout: float = 40) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(url.endswith("/" + name) for url in page.requested):
            return True
        page.wait_for_timeout(100)  # Playwright's sync API delivers the page's events only while it is called
    return False


def test_a_3d_file_from_the_last_call_renders_on_the_first_card(studio):
    with open_page(studio.url) as page:
        run_goal(page, "a 3D model of a bronze figurine")
        wait_status(page, r"turn 1 done")
        (m,) = manifests(studio.out).values()
        assert [c["endpoint"] for c in m["calls"]] == ["/generate", "/image_to_3d", "/extract_glb"]
        assert not any(str(f).endswith(".glb") for c in m["calls"][:2] for f in c["outputs"] if isinstance(f, str))
        glb = Path(m["calls"][2]["outputs"][0])
        card = page.locator("#model3d-0")
        card.get_by_text("acme/trellis2-lite /extract_glb").wait_for()
        assert requested_within(page, glb.name), "the browser never asked for the .glb"
        assert canvas_has_model(page, "#model3d-0")
        page.screenshot(path=str(ARTIFACTS / "studio-last-call-3d.png"), full_page=True)
