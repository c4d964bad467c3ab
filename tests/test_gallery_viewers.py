"""The gallery's viewers for every 3D kind: Gaussian splats (told from point clouds by the PLY header),
point clouds, OBJ, STL, and glTF; from the run's assets/ (--offline-viewers) or the pinned CDN (integrity
checked), and opened from disk. The browser part runs Debian's Chromium through Playwright (Python)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from apps.spaces import make_glb
from gallery_kinds import obj, points_ply, splat_ply, stl
from PIL import Image

from spacechain.agent import viewers
from spacechain.agent.gallery import MODEL_VIEWER_SRI, MODEL_VIEWER_URL, offline_model_viewer, write_gallery
from spacechain.agent.show import serve

TESTS = Path(__file__).resolve().parent
ARTIFACTS = TESTS / "artifacts"
CHROMIUM = "/usr/bin/chromium"
KINDS = {  # card title → (file, viewer)
    "a splat of a fox": ("fox-splat.ply", "splat"),
    "a cloud of a fox": ("fox-cloud.ply", "points"),
    "a mesh of a fox": ("fox-mesh.obj", "obj"),
    "a print of a fox": ("fox-print.stl", "stl"),
}


def make_kinds_run(run: Path) -> dict[str, Any]:
    """One call per 3D kind, and a figurine chain from the user's photo: photo → portrait → 3D."""
    run.mkdir(parents=True, exist_ok=True)
    splat_ply(run / "fox-splat.ply")
    points_ply(run / "fox-cloud.ply")
    obj(run / "fox-mesh.obj")
    stl(run / "fox-print.stl")
    Image.new("RGB", (40, 40), (180, 120, 60)).save(run / "my-photo.jpg")
    Image.new("RGB", (40, 40), (90, 60, 160)).save(run / "portrait-out.png")
    (run / "figurine-out.glb").write_bytes(make_glb((0.9, 0.35, 0.05), {}))

    def call(n: int, space: str, endpoint: str, inputs: dict, out: str) -> dict[str, Any]:
        return {
            "id": n,
            "space": space,
            "endpoint": endpoint,
            "inputs": inputs,
            "outputs": [str(run / out)],
            "status": "complete",
            "files": [{"local": str(run / out), "direction": "out"}],
            "queue_s": 0.2,
            "run_s": 1.0,
        }

    calls = [call(n, "acme/fox3d", "/make", {"prompt": t}, f) for n, (t, (f, _)) in enumerate(KINDS.items(), 1)]
    calls.append(
        call(5, "acme/portrait", "/stylize", {"image": {"path": str(run / "my-photo.jpg")}}, "portrait-out.png")
    )
    calls.append(
        call(6, "acme/trellis-lite", "/image_to_3d", {"image": str(run / "portrait-out.png")}, "figurine-out.glb")
    )
    manifest = {"goal": "every 3D kind", "status": "success", "run_dir": str(run), "calls": calls}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_cards_for_every_kind_cdn_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPACECHAIN_VIEWERS", raising=False)
    monkeypatch.delenv("SPACECHAIN_MODEL_VIEWER", raising=False)
    run = tmp_path / "run"
    page = write_gallery(run, make_kinds_run(run)).read_text()
    figures = re.findall(r'<figure class="card (\w+)">(.*?)</figure>', page, re.S)
    titles = [re.search(r'<h3 class="title">(.*?)</h3>', body).group(1) for _, body in figures]
    assert titles == [*KINDS, "my-photo.jpg"]  # the figurine is titled by the user's file; its portrait is inside
    for title, (kind, body) in zip(KINDS, figures):
        name, viewer = KINDS[title]
        assert kind == "model3d" and f'data-viewer="{viewer}"' in body and f'data-src="{name}"' in body
    # Same extension, told apart by the header: 3DGS fields make a splat, x/y/z/colour a point cloud.
    assert 'data-kind="ply-splat"' in figures[0][1] and 'data-kind="ply-points"' in figures[1][1]
    assert "Gaussian splat" in figures[0][1] and "point cloud" in figures[1][1]
    strip = re.findall(r'<img src="([^"]+)"|<b>([^<]+)</b>', figures[4][1].split('<ol class="chain">')[1])
    assert strip == [("my-photo.jpg", ""), ("", "acme/portrait"), ("portrait-out.png", ""), ("", "acme/trellis-lite")]
    # CDN mode: an import map pins every viewer file with its hash; the CSP allows those folders and our
    # two inline scripts by hash, nothing else.
    importmap = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page).group(1))
    for name, ((package, version), path, digest) in viewers.FILES.items():
        url = f"https://cdn.jsdelivr.net/npm/{package}@{version}/{path}"
        assert importmap["imports"][name] == url and importmap["integrity"][url] == f"sha384-{digest}"
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)
    scripts = csp.split("script-src ")[1].split(";")[0].split()
    assert scripts[-3:] == [
        "https://cdn.jsdelivr.net/npm/@mkkellogg/gaussian-splats-3d@0.4.7/",
        MODEL_VIEWER_URL,
        "'wasm-unsafe-eval'",
    ]
    assert viewers.script_hash(viewers.GLUE) in scripts and not (run / "assets").exists()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def viewer_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(offline viewers folder, model-viewer file), fetched with npm pack as --offline-viewers does."""
    pytest.importorskip("playwright.sync_api")
    if not shutil.which("npm") or not Path(CHROMIUM).exists():
        pytest.skip(f"needs npm and Debian's Chromium at {CHROMIUM}")
    cache = tmp_path_factory.mktemp("viewers")
    return viewers.offline_viewers(cache), offline_model_viewer(cache)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu"]
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield b
        b.close()


def _open(browser: Any, url: str, shots: str | None, route: dict[str, bytes] | None = None) -> dict[str, Any]:
    """Open `url`, wait until every viewer settled, screenshot each: what the page showed."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    if route is not None:  # stand in for the CDN with the npm files (tampered ones on request)
        context.route(
            "https://cdn.jsdelivr.net/**",
            lambda r: r.fulfill(
                body=route[r.request.url], content_type="text/javascript", headers={"access-control-allow-origin": "*"}
            ),
        )
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    for _ in range(120):  # the page's CSP forbids Playwright's eval-based waits: poll
        if page.evaluate("[...document.querySelectorAll('[data-viewer]')].every(e => e.dataset.state)"):
            break
        if url.startswith("file:"):
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(800)  # a few frames
    state = page.evaluate(
        """() => ({
        viewers: [...document.querySelectorAll('[data-viewer]')].map(e => ({viewer: e.dataset.viewer,
          state: e.dataset.state || null, text: e.innerText.slice(0, 200), shown: e.offsetHeight > 0})),
        hints: [...document.querySelectorAll('.disk-hint')].filter(h => h.offsetHeight > 0).length,
        cards: document.querySelectorAll('main figure.card').length,
        timeline: document.querySelectorAll('svg.timeline g.call').length,
        models: [...document.querySelectorAll('model-viewer')].map(m => m.loaded)})"""
    )
    state["shots"] = []
    for i in range(len(state["viewers"]) if shots else 0):
        el = page.locator("[data-viewer]").nth(i)
        if state["viewers"][i]["shown"]:
            path = f"{shots}-{i}.png"
            el.screenshot(path=path)
            state["shots"].append(path)
    if shots:
        page.screenshot(path=f"{shots}-page.png", full_page=True)
    context.close()
    return {**state, "requests": requests, "errors": errors}


def _drawn(png: str) -> float:
    """Share of pixels that differ from the empty card's background (the canvas is not blank)."""
    img = Image.open(png).convert("RGB")
    bg = img.getpixel((2, 2))
    data = img.tobytes()
    px = list(zip(data[0::3], data[1::3], data[2::3]))
    return sum(1 for p in px if max(abs(a - b) for a, b in zip(p, bg)) > 40) / len(px)


def test_every_viewer_renders_served_offline_cdn_and_from_disk(
    viewer_files: tuple[Path, Path], browser: Any, tmp_path: Path
) -> None:
    folder, mv = viewer_files
    ARTIFACTS.mkdir(exist_ok=True)
    run = tmp_path / "offline"
    manifest = make_kinds_run(run)
    write_gallery(run, manifest, model_viewer=str(mv), viewers=folder)
    assert sorted(p.name for p in (run / "assets" / "viewers").iterdir()) == sorted(
        Path(p).name for _, p, _ in viewers.FILES.values()
    )
    server, url = serve(run, manifest=manifest)  # what `spacechain show` serves: the manifest's files + assets/
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        served = _open(browser, url, str(ARTIFACTS / "gallery-kinds"))
    finally:
        server.shutdown()
        server.server_close()
    assert served["errors"] == [] and served["cards"] == 5 and served["timeline"] == 6
    assert [v["state"] for v in served["viewers"]] == ["shown"] * 4, served["viewers"]
    assert served["models"] == [True]
    assert {u.split("/")[2] for u in served["requests"]} == {url.split("/")[2]}  # nothing but the local server
    for shot in served["shots"]:
        assert _drawn(shot) > 0.02, shot  # each viewer drew something

    # CDN mode: the browser gets the npm files for the pinned URLs, but a changed splat library: that one is
    # refused by its integrity, the three.js viewers load and show.
    cdn = tmp_path / "cdn"
    shutil.copytree(run, cdn, ignore=shutil.ignore_patterns("assets", "gallery.html", "manifest.json"))
    manifest = make_kinds_run(cdn)
    write_gallery(cdn, manifest)
    route = {
        viewers._cdn_url(n): (folder / f"{p.replace('/', '+')}@{v}" / f).read_bytes()
        for n, ((p, v), f, _) in viewers.FILES.items()
    }
    route[MODEL_VIEWER_URL] = mv.read_bytes()
    server, url = serve(cdn, manifest=manifest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        route[viewers._cdn_url("sc/splats")] += b"\n//changed"
        bad = _open(browser, url, None, route)
    finally:
        server.shutdown()
        server.server_close()
    assert [v["state"] for v in bad["viewers"]] == ["failed", "shown", "shown", "shown"], bad["viewers"]
    assert "could not show" in bad["viewers"][0]["text"]

    # Opened from disk: the 3D cards say how to serve the page instead of staying empty.
    disk = _open(browser, (run / "gallery.html").as_uri(), None)
    assert disk["hints"] == 5 and disk["cards"] == 5 and not any(v["shown"] for v in disk["viewers"])


def test_run_with_offline_viewers(viewer_files: tuple[Path, Path], hub_env: Any, llm: Any, tmp_path: Path) -> None:
    from cli_support import CHAIN, GOAL, cli_env, error_lines, scripted_args, spacechain

    folder, _ = viewer_files
    xdg = tmp_path / "xdg"
    shutil.copytree(folder, xdg / "spacechain" / "viewers")  # fetched once by the fixture, as a first run does
    env = {**cli_env(hub_env.url, tmp_path), "XDG_CACHE_HOME": str(xdg)}
    out = tmp_path / "run"
    args = scripted_args("run", GOAL, api_base=llm(CHAIN).url, out=out)
    proc = spacechain([*args, "--offline-viewers"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (out / "gallery.html").read_text()
    copied = (out / "assets" / "model-viewer.min.js").read_bytes()
    assert viewers.sri(copied) == MODEL_VIEWER_SRI
    assert '<script type="module" src="assets/model-viewer.min.js"></script>' in page and "https://cdn" not in page
    assert page.count('<figure class="card') == 1  # the chain's one result; its photo and preview inside

    # No npm and nothing cached: one line that says what to do, before any Space or LLM call.
    proc = spacechain(
        [*args[:-1], str(tmp_path / "run2"), "--offline-viewers"],
        {**env, "XDG_CACHE_HOME": str(tmp_path / "empty"), "PATH": "/nonexistent"},
    )
    (line,) = error_lines(proc.stderr)
    assert proc.returncode != 0 and "--offline-viewers needs npm" in line and "Traceback" not in proc.stderr
