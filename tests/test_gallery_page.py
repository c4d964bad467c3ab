"""gallery.html is safe to open: untrusted text escaped, no handler or script but the pinned viewer's,
CDN and local model-viewer modes with their CSP, the offline viewer and `show` serving only viewer
files; then the real page in headless Chromium."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import gallery_support
import pytest
from gallery_support import EVIL, make_run, parse_tags, six_landmarks
from PIL import Image

from spacechain.agent import gallery, viewers
from spacechain.agent.gallery import MODEL_VIEWER_SRI, MODEL_VIEWER_URL, MODEL_VIEWER_VERSION, write_gallery

TESTS = Path(__file__).resolve().parent
ARTIFACTS = TESTS / "artifacts"
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_CORE = "playwright-core@1.65.1"

run = gallery_support.run  # the fixture, shared with test_gallery_cards


def test_untrusted_text_is_escaped(run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, manifest = run
    page = write_gallery(run_dir, manifest).read_text()
    assert "<script>alert" not in page and "<b>bold" not in page and '"onerror' not in page
    assert "onerror=alert(3)>" not in page  # the file name, in attributes and text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;onerror=alert(2) x" in page
    assert "<title>a 3D gallery of two landmarks &lt;b&gt;bold&lt;/b&gt;</title>" in page
    assert "Done.&lt;/p&gt;&lt;script&gt;alert(4)" in page
    # File names become percent-encoded relative URLs: no quote to break out of, no scheme.
    assert 'src="evil%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%283%29%3E.png"' in page
    tags = parse_tags(page)  # as a browser would parse it: no handler attribute, no script but model-viewer's
    assert not [(tag, name) for tag, attrs in tags for name in attrs if name.startswith("on")]
    # ...but our own inline one, allowed by its hash, that marks a page opened from disk.
    assert [attrs.get("src") for tag, attrs in tags if tag == "script"] == [None, MODEL_VIEWER_URL]
    assert f"<script>{gallery.DISK_SCRIPT}</script>" in page


def test_cdn_mode(run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, manifest = run
    page = write_gallery(run_dir, manifest).read_text()
    assert (
        f"https://cdn.jsdelivr.net/npm/@google/model-viewer@{MODEL_VIEWER_VERSION}/dist/model-viewer.min.js"
    ) == MODEL_VIEWER_URL
    assert re.fullmatch(r"sha384-[A-Za-z0-9+/]{64}", MODEL_VIEWER_SRI)
    assert (
        f'<script type="module" src="{MODEL_VIEWER_URL}" integrity="{MODEL_VIEWER_SRI}" '
        'crossorigin="anonymous"></script>'
    ) in page
    # CSP: that script and our inline one (by hash), nothing else
    assert f"script-src {gallery.DISK_SCRIPT_SRC} {MODEL_VIEWER_URL} 'wasm-unsafe-eval';" in page
    assert not (run_dir / "assets").exists()


def test_local_mode_copies_model_viewer(
    run: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, manifest = run
    mv = tmp_path / "mv.js"
    mv.write_text("export const x = 1;\n")
    page = write_gallery(run_dir, manifest, model_viewer=str(mv)).read_text()
    assert (run_dir / "assets" / "model-viewer.min.js").read_bytes() == mv.read_bytes()
    assert '<script type="module" src="assets/model-viewer.min.js"></script>' in page
    assert (
        "cdn.jsdelivr" not in page
        and "https://" not in page
        and f"script-src {gallery.DISK_SCRIPT_SRC} 'self' 'wasm-unsafe-eval';" in page
    )

    shutil.rmtree(run_dir / "assets")
    monkeypatch.setenv(gallery.MODEL_VIEWER_ENV, str(mv))  # the env var works without the argument
    assert 'src="assets/model-viewer.min.js"' in write_gallery(run_dir, manifest).read_text()
    assert (run_dir / "assets" / "model-viewer.min.js").exists()


def test_offline_viewers_fetch_the_pinned_file_and_show_serves_it(
    run: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which("npm"):
        pytest.skip("--offline-viewers needs npm")
    run_dir, manifest = run
    cache = tmp_path / "cache"
    mv = viewers.offline_model_viewer(cache)  # npm pack from the registry, checked against the pinned hash
    assert mv.parent == cache and viewers.sri(mv.read_bytes()) == MODEL_VIEWER_SRI
    monkeypatch.setattr(viewers.shutil, "which", lambda name: None)  # the cached copy needs no npm
    assert viewers.offline_model_viewer(cache) == mv
    mv.write_bytes(b"tampered")  # a changed copy is never used
    with pytest.raises(viewers.ViewerError, match="needs npm"):
        viewers.offline_model_viewer(cache)

    mv.write_bytes(b"export {};")
    write_gallery(run_dir, manifest, model_viewer=str(mv))
    (run_dir / "assets" / "splat-worker.wasm").write_bytes(b"\0asm")
    (run_dir / "assets" / "notes.html").write_text("<script>x</script>")
    (run_dir / "assets" / "link.js").symlink_to(tmp_path / "outside.js")
    (run_dir / "secret.json").write_text("{}")
    (run_dir / "assets" / "up").symlink_to(run_dir)  # a linked folder leads to files the manifest never named
    from spacechain.agent.show import serve

    server, url = serve(run_dir, manifest=manifest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        import httpx

        base = url.rsplit("/", 1)[0]
        js = httpx.get(f"{base}/assets/model-viewer.min.js", timeout=10)
        assert js.status_code == 200 and js.headers["content-type"] == "text/javascript" and js.text == "export {};"
        wasm = httpx.get(f"{base}/assets/splat-worker.wasm", timeout=10)
        assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
        for path in ("assets/notes.html", "assets/link.js", "assets/", "assets/up/secret.json"):  # viewer files only
            assert httpx.get(f"{base}/{path}", timeout=10).status_code == 404, path
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def npm_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("browser test needs node and npm (apt-get install nodejs npm)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser test needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    prefix = tmp_path_factory.mktemp("npm")
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(prefix),
            f"@google/model-viewer@{MODEL_VIEWER_VERSION}",
            PLAYWRIGHT_CORE,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return prefix


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(folder, base URL): a folder served over http://127.0.0.1:<free port>."""
    root = tmp_path / "site"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _orange_share(png: str) -> float:
    """Share of pixels that look like the lit orange cube (red well above blue)."""
    data = Image.open(png).convert("RGB").tobytes()
    px = list(zip(data[0::3], data[1::3], data[2::3]))
    return sum(1 for r, g, b in px if r > 120 and r - b > 80) / len(px)


def test_gallery_in_chromium(npm_prefix: Path, served: tuple[Path, str]) -> None:
    root, base = served
    mv = npm_prefix / "node_modules/@google/model-viewer/dist/model-viewer.min.js"
    digest = base64.b64encode(hashlib.sha384(mv.read_bytes()).digest()).decode()
    assert f"sha384-{digest}" == MODEL_VIEWER_SRI, "the pinned hash must match the registry's file"

    manifest = make_run(root / "local")
    write_gallery(root / "local", manifest, model_viewer=str(mv))
    for name in ("cdn", "tampered"):  # CDN mode: the browser gets the npm file in place of the CDN's
        shutil.copytree(root / "local", root / name, ignore=shutil.ignore_patterns("assets", "gallery.html"))
        write_gallery(
            root / name,
            {
                **manifest,
                "calls": json.loads(json.dumps(manifest["calls"]).replace(str(root / "local"), str(root / name))),
            },
        )
    write_gallery(root / "six", six_landmarks(root / "six"), model_viewer=str(mv))
    ARTIFACTS.mkdir(exist_ok=True)
    shots = root.parent / "shots"
    shots.mkdir()
    cdn = {"url": MODEL_VIEWER_URL, "file": str(mv)}
    config = {
        "prefix": str(npm_prefix),
        "chromium": CHROMIUM,
        "shots": str(shots),
        "pages": [
            {"name": "local", "url": f"{base}/local/gallery.html", "screenshot": str(ARTIFACTS / "gallery.png")},
            {"name": "cdn", "url": f"{base}/cdn/gallery.html", "cdn": {**cdn, "tamper": False}},
            {"name": "tampered", "url": f"{base}/tampered/gallery.html", "cdn": {**cdn, "tamper": True}},
            {"name": "six", "url": f"{base}/six/gallery.html", "screenshot": str(ARTIFACTS / "gallery-six.png")},
            {"name": "disk", "url": (root / "six" / "gallery.html").as_uri()},
        ],
    }
    proc = subprocess.run(
        ["node", str(TESTS / "browser" / "gallery_check.mjs"), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    local, cdn_page, tampered, six, disk = json.loads(proc.stdout.strip().splitlines()[-1])

    for page in (local, cdn_page):
        assert page["errors"] == [], page["errors"]
        assert not [e for e in page["events"] if e["type"] in ("csp", "error")], page["events"]
        assert page["defined"], "model-viewer was not defined"
        assert [m["src"] for m in page["models"]] == ["extract_glb-model-99.glb"]  # the preview is in its chain
        loads = {e["src"] for e in page["events"] if e["tag"] == "model-viewer" and e["type"] == "load"}
        assert loads == {m["src"] for m in page["models"]} and all(m["loaded"] for m in page["models"])
        # the image card + the photo in the model's chain + both images in the (closed) every-file list
        assert len(page["images"]) == 4 and all(i["width"] > 0 for i in page["images"]), page["images"]
        assert page["audio"][0]["duration"] == pytest.approx(0.5)
        assert page["cards"] == ["Eiffel Tower", EVIL, "Hello there"] and page["timeline"] == 6
        assert page["hints"] == 0  # served over http: no "serve it" note
    # The six-landmark run reads as six titled 3D cards, each viewer rendering, with its timeline.
    assert six["errors"] == [] and six["cards"][0] == "Eiffel Tower" and len(six["cards"]) == 6
    assert len(six["models"]) == 6 and all(m["loaded"] and m["visible"] for m in six["models"]), six["models"]
    assert six["timeline"] == 18 and six["rendered"]
    for shot in six["model_shots"]:
        assert _orange_share(shot) > 0.02, shot
    # Opened from disk (browsers refuse file:// models): each 3D card says how to serve it; images still show.
    assert disk["hints"] == 6 and disk["cards"] == six["cards"] and disk["timeline"] == 18
    assert [i for i in disk["images"] if i["width"] == 0] == [], disk["images"]
    if os.environ.get("SPACECHAIN_UPDATE_SCREENSHOT") == "1":  # the README's picture, made by this test
        shot = Image.open(ARTIFACTS / "gallery-six.png")
        shot.crop((0, 0, shot.width, min(shot.height, 1720))).save(TESTS / "data" / "gallery.png", optimize=True)
    # Nothing but 127.0.0.1, except the pinned script in CDN mode.
    assert {urlsplit(u).hostname for u in local["requests"]} == {"127.0.0.1"}, local["requests"]
    assert [u for u in cdn_page["requests"] if urlsplit(u).hostname != "127.0.0.1"] == [MODEL_VIEWER_URL]
    # The integrity attribute is enforced: a changed file is refused and the element never defined.
    assert not tampered["defined"] and any("integrity" in e for e in tampered["errors"]), tampered["errors"]

    # The cubes really render (WebGL on SwiftShader): each viewer shows a good share of orange.
    assert local["rendered"], local["models"]
    for shot in local["model_shots"]:
        assert _orange_share(shot) > 0.02, shot
