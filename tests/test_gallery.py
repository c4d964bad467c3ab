"""gallery.html: cards, chains, escaping, model-viewer modes; then the real page in headless Chromium."""

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
import wave
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
from apps.spaces import make_glb
from PIL import Image

from spacechain.agent import gallery, viewers
from spacechain.agent.gallery import MODEL_VIEWER_SRI, MODEL_VIEWER_URL, MODEL_VIEWER_VERSION, write_gallery

TESTS = Path(__file__).resolve().parent
ARTIFACTS = TESTS / "artifacts"
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_CORE = "playwright-core@1.65.1"
EVIL = '<script>alert(1)</script> "onerror=alert(2) x'
EVIL_NAME = 'evil"><img src=x onerror=alert(3)>.png'
CUBE_RGB = (0.9, 0.35, 0.05)  # orange, easy to find in a screenshot


def make_run(run: Path) -> dict[str, Any]:
    """A run folder with real files and a manifest like the agent writes (two chains + audio + a failure)."""
    run.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(run / "generate-out-ab12cd34.png")
    Image.new("RGB", (40, 40), (30, 30, 200)).save(run / EVIL_NAME)
    for name in ("image_to_3d-preview-ef56.glb", "extract_glb-model-99.glb"):
        (run / name).write_bytes(make_glb(CUBE_RGB, {}))
    with wave.open(str(run / "speak-out-1.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 4000)
    png, evil_png, preview, model = (
        str(run / n)
        for n in ("generate-out-ab12cd34.png", EVIL_NAME, "image_to_3d-preview-ef56.glb", "extract_glb-model-99.glb")
    )

    def call(
        id_: int, space: str, endpoint: str, inputs: Any, outputs: Any, status: str = "complete", **kw: Any
    ) -> dict[str, Any]:
        files = [
            {
                "local": p,
                "sha256": "0" * 64,
                "remote": f"http://127.0.0.1:9/file={Path(p).name}",
                "size": 1,
                "direction": "out",
            }
            for p in outputs or []
            if isinstance(p, str)
        ]
        return {
            "id": id_,
            "step": id_,
            "space": space,
            "endpoint": endpoint,
            "session": "default",
            "inputs": inputs,
            "status": status,
            "outputs": outputs,
            "files": files,
            "error": None,
            "queue_s": 0.0,
            "run_s": 1.2,
            "total_s": 1.2 * id_,
            "cached": False,
            **kw,
        }

    return {
        "goal": "a 3D gallery of two landmarks <b>bold</b>",
        "model": "openai/x",
        "status": "success",
        "final_answer": "Done.</p><script>alert(4)</script>",
        "started_at": "2026-11-22T00:00:00+00:00",
        "run_dir": str(run),
        "calls": [
            call(1, "acme/flux-lite", "/generate", {"prompt": "Eiffel Tower", "seed": 3}, [png, 42]),
            # The remote URL of call 1's output (not its local path) still links the chain.
            call(
                2,
                "acme/trellis-lite",
                "/image_to_3d",
                {"image": {"path": f"http://127.0.0.1:9/file={Path(png).name}"}},
                [preview],
            ),
            call(3, "acme/trellis-lite", "/extract_glb", {"texture_size": 1024}, [model, model]),
            call(4, "acme/flux-lite", "/generate", {"prompt": EVIL}, [evil_png, 7], cached=True),
            call(5, "acme/toolbox", "/speak", ["Hello there"], [str(run / "speak-out-1.wav")]),
            call(
                6,
                "acme/toolbox",
                "/fail",
                {"prompt": "x"},
                None,
                status="error",
                error={"error": "quota_exceeded", "message": "GPU quota"},
            ),
        ],
    }


def parse_tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    tags: list[tuple[str, dict[str, str | None]]] = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: tags.append((tag, dict(attrs)))  # type: ignore[method-assign]
    parser.feed(page)
    return tags


def cards(page: str) -> dict[str, str]:
    """{file name: card html} (the name is the card's caption link text, unescaped)."""
    out = {}
    for card in re.findall(r'<figure class="card.*?</figure>', page, re.S):
        name = re.search(r'class="name"[^>]*>(.*?)</', card).group(1)
        out[name.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")] = card
    return out


def chain(card: str) -> list[str]:
    """The chain as text: `img:<src>` for thumbnails, else the item's text without tags."""
    items = []
    for li in re.findall(r"<li[^>]*>(.*?)</li>", card, re.S):
        img = re.search(r'<img src="([^"]+)"', li)
        items.append(f"img:{img.group(1)}" if img else re.sub(r"<[^>]+>", "", li).strip())
    return items


# --------------------------------------------------------------------------- unit


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    monkeypatch.delenv(gallery.MODEL_VIEWER_ENV, raising=False)
    run_dir = tmp_path / "run"
    return run_dir, make_run(run_dir)


def test_cards_chains_and_relative_paths(run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, manifest = run
    out = write_gallery(run_dir, manifest)
    assert out == run_dir.resolve() / "gallery.html"
    page = out.read_text()
    by_name = cards(page)
    # One card per result: the media outputs no later call consumed (the image and the preview of the
    # Eiffel chain are inside its card), de-duplicated (extract_glb returns its model twice); 42/7 skipped.
    # The speech stays a result: the only later call on its session failed.
    assert list(by_name) == ["extract_glb-model-99.glb", EVIL_NAME, "speak-out-1.wav"]
    assert str(run_dir) not in page and str(run_dir.resolve()) not in page  # only relative paths
    assert '<model-viewer src="extract_glb-model-99.glb"' in by_name["extract_glb-model-99.glb"]
    assert "camera-controls auto-rotate" in by_name["extract_glb-model-99.glb"]
    assert '<audio controls preload="metadata" src="speak-out-1.wav">' in by_name["speak-out-1.wav"]
    # Titled by the prompt; a download is saved under a readable name made from it.
    assert '<h3 class="title">Eiffel Tower</h3>' in by_name["extract_glb-model-99.glb"]
    assert 'download="eiffel-tower.glb"' in by_name["extract_glb-model-99.glb"]
    assert '<h3 class="title">Hello there</h3>' in by_name["speak-out-1.wav"]
    assert 'download="hello-there.wav"' in by_name["speak-out-1.wav"]
    assert "page opened from disk" in by_name["extract_glb-model-99.glb"] and "spacechain show" in page
    # Every file (intermediates too) behind a toggle.
    every = page.split('<details class="every">')[1].split("</details>")[0]
    assert "Every file (5)" in every and every.count("<li>") == 5
    assert '<img src="generate-out-ab12cd34.png"' in every and "image_to_3d-preview-ef56.glb" in every
    assert "3 results · 5 files · 6 calls" in page
    # extract_glb consumed no file: it continues image_to_3d through the Space session.
    assert chain(by_name["extract_glb-model-99.glb"]) == [
        "prompt “Eiffel Tower”",
        "acme/flux-lite /generate",
        "img:generate-out-ab12cd34.png",
        "acme/trellis-lite /image_to_3d",
        "session default",
        "acme/trellis-lite /extract_glb",
        "model",
    ]
    # A second /generate on the same session is a chain of its own, not a continuation of the first.
    assert len(chain(by_name[EVIL_NAME])) == 3 and "Eiffel" not in by_name[EVIL_NAME]
    assert chain(by_name["speak-out-1.wav"]) == ["“Hello there”", "acme/toolbox /speak", "audio"]

    table = page.split("<table>")[1]
    assert table.count("<tr>") == 7 and "error (quota_exceeded)" in table and "<td>yes</td>" in table
    assert "1.2 s" in table and "7.2 s" in table
    assert "2026-11-22 00:00 UTC" in page and "openai/x" in page


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


def test_no_model_no_script_and_other_media(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 16)
    (tmp_path / "notes.txt").write_text("hi")
    manifest = {
        "goal": "clips",
        "status": "error",
        "calls": [
            {
                "space": "a/v",
                "endpoint": "/v",
                "inputs": {"p": "x"},
                "outputs": [
                    str(tmp_path / "clip.mp4"),
                    str(tmp_path / "notes.txt"),
                    "https://example.com/remote.png",
                    str(tmp_path / "gone.webp"),
                ],
            }
        ],
    }
    page = write_gallery(tmp_path, manifest, model_viewer=str(tmp_path / "absent.js")).read_text()
    by_name = cards(page)
    assert list(by_name) == ["clip.mp4", "remote.png", "gone.webp"]
    assert '<video controls muted playsinline preload="metadata" src="clip.mp4">' in by_name["clip.mp4"]
    assert "remote file" in by_name["remote.png"] and "example.com" not in page  # never fetched
    assert "file missing" in by_name["gone.webp"]
    assert page.count("<script") == 1 and f"script-src {gallery.DISK_SCRIPT_SRC};" in page


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


def six_landmarks(run: Path) -> dict[str, Any]:
    """A pipelined six-item text → image → 3D run, as `run_pipeline` records it (one session per item)."""
    run.mkdir(parents=True, exist_ok=True)
    calls: list[dict[str, Any]] = []
    names = ["Eiffel Tower", "Big Ben", "Colosseum", "Taj Mahal", "Sydney Opera House", "Golden Gate Bridge"]
    for n, name in enumerate(names):
        png, preview, glb = run / f"infer-image-{n:08x}.webp", run / f"image_to_3d-{n}.glb", run / f"extract-{n}.glb"
        Image.new("RGB", (32, 32), (40 * n, 90, 200)).save(png, "WEBP")
        preview.write_bytes(make_glb(CUBE_RGB, {}))
        glb.write_bytes(make_glb(CUBE_RGB, {}))
        for k, (space, endpoint, inputs, out) in enumerate(
            [
                ("acme/flux-lite", "/generate", {"prompt": name, "seed": 0}, png),
                ("acme/trellis-lite", "/image_to_3d", {"image": {"path": str(png)}}, preview),
                ("acme/trellis-lite", "/extract_glb", {"texture_size": 512}, glb),
            ]
        ):
            calls.append(
                {
                    "id": len(calls) + 1,
                    "space": space,
                    "endpoint": endpoint,
                    "session": f"item-{n}",
                    "inputs": inputs,
                    "outputs": [str(out)],
                    "status": "complete",
                    "files": [{"local": str(out), "direction": "out", "remote": ""}],
                    # the pipeline: item n's image is made while item n-1 is turned into 3D
                    "submitted_at": f"2026-12-01T08:00:{10 + 2 * n + 2 * k:02d}+00:00",
                    "queue_s": 0.5,
                    "run_s": 1.5,
                    "total_s": 2.0,
                    "cached": n == 0 and k == 0,
                }
            )
    return {"goal": "six landmarks in 3D", "status": "success", "calls": calls}


def test_six_landmarks_read_as_six_titled_3d_cards(tmp_path: Path) -> None:
    manifest = six_landmarks(tmp_path / "run")
    page = write_gallery(tmp_path / "run", manifest).read_text()
    by_name = cards(page)
    assert list(by_name) == [f"extract-{n}.glb" for n in range(6)]
    titles = re.findall(r'<h3 class="title">(.*?)</h3>', page)
    assert titles == ["Eiffel Tower", "Big Ben", "Colosseum", "Taj Mahal", "Sydney Opera House", "Golden Gate Bridge"]
    assert 'download="sydney-opera-house.glb"' in by_name["extract-4.glb"]
    # Each card's strip: its own prompt → its own photo → the 3D steps, nothing from the other items.
    assert chain(by_name["extract-1.glb"]) == [
        "prompt “Big Ben”",
        "acme/flux-lite /generate",
        "img:infer-image-00000001.webp",
        "acme/trellis-lite /image_to_3d",
        "session item-1",
        "acme/trellis-lite /extract_glb",
        "model",
    ]
    assert "6 results · 18 files · 18 calls" in page


def test_timeline_lanes_overlap_and_cached(tmp_path: Path) -> None:
    manifest = six_landmarks(tmp_path / "run")
    page = write_gallery(tmp_path / "run", manifest).read_text()
    svg = re.search(r'<svg class="timeline".*?</svg>', page, re.S).group(0)
    tags = parse_tags(svg)
    assert [t for t, _ in tags if t == "script"] == [] and not [a for _, at in tags for a in at if a.startswith("on")]
    # one lane per Space
    assert re.findall(r'<text class="lane"[^>]*>(.*?)</text>', svg) == ["acme/flux-lite", "acme/trellis-lite"]
    groups = re.findall(r'<g class="call (\w+)"><title>(.*?)</title>(.*?)</g>', svg)
    assert len(groups) == 18 and [g[0] for g in groups].count("cached") == 1
    assert groups[0][1] == "#1 acme/flux-lite /generate: complete (cached)"
    # Item 1's image (call 4) is made at the same time as item 0's /image_to_3d (call 2): pipelining is visible.
    x = {int(t.split()[0][1:]): float(re.search(r'x="([\d.]+)"', body).group(1)) for _, t, body in groups}
    assert x[1] < x[2] == x[4] < x[3] == x[5]
    queue, run_ = re.findall(r'class="queue" x="([\d.]+)" y="\d+" width="([\d.]+)"', groups[1][2])[0]
    assert float(run_) > 0 and re.search(rf'class="run" x="{float(queue) + float(run_):.1f}"', groups[1][2])
    assert "Timeline" in page and "queue 0.5 s, run 1.5 s" in svg


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
