"""gallery.html from a manifest: one card per result with its chain, titles and downloads, other media,
the every-file list, the calls table and the timeline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gallery_support
from gallery_support import EVIL, EVIL_NAME, cards, chain, parse_tags, six_landmarks

from spacechain.agent import gallery
from spacechain.agent.gallery import write_gallery
from spacechain.agent.results import write_results

run = gallery_support.run  # the fixture, shared with test_gallery_page


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


def test_results_get_readable_names_in_the_run_folder(run: tuple[Path, dict[str, Any]]) -> None:
    """results/ holds a copy of each result named from its title, listed in the manifest and linked by the
    cards; names never clash, stay put from turn to turn, and a file there that is not ours is never replaced."""
    run_dir, manifest = run
    glb, wav = str(run_dir / "extract_glb-model-99.glb"), str(run_dir / "speak-out-1.wav")
    (run_dir / "results").mkdir()
    (run_dir / "results" / "hello-there.wav").write_text("the user's own notes")
    manifest["results"] = write_results(run_dir, manifest)
    names = {e["file"]: e["name"] for e in manifest["results"]}
    assert names[glb] == "eiffel-tower.glb" and names[wav] == "hello-there-2.wav"
    assert names[str(run_dir / EVIL_NAME)] == "script-alert-1-script-onerror-alert-2-x.png"
    assert (run_dir / "results" / "hello-there.wav").read_text() == "the user's own notes"
    for e in manifest["results"]:
        assert (run_dir / e["path"]).read_bytes() == Path(e["file"]).read_bytes() and e[
            "path"
        ] == f"results/{e['name']}"
    assert {e["title"] for e in manifest["results"]} == {"Eiffel Tower", "Hello there", EVIL}
    page = write_gallery(run_dir, manifest).read_text()
    by_name = cards(page)
    assert list(by_name) == ["eiffel-tower.glb", "script-alert-1-script-onerror-alert-2-x.png", "hello-there-2.wav"]
    assert '<a class="name" href="results/eiffel-tower.glb" download="eiffel-tower.glb">' in by_name["eiffel-tower.glb"]
    assert '<model-viewer src="extract_glb-model-99.glb"' in by_name["eiffel-tower.glb"]  # shown from the output

    # A later turn: a second Eiffel Tower, and the speech taken further (no longer a result: its copy goes).
    second = run_dir / "extract_glb-model-100.glb"
    second.write_bytes(Path(glb).read_bytes() + b"\0")
    calls = manifest["calls"]
    calls.append({**calls[0], "id": 7, "outputs": [str(run_dir / "generate-out-ab12cd34.png")], "files": []})
    calls.append({**calls[2], "id": 8, "inputs": {"image": str(run_dir / "generate-out-ab12cd34.png")}})
    calls[-1] = {**calls[-1], "outputs": [str(second)], "files": [{"local": str(second), "direction": "out"}]}
    calls.append({**calls[4], "id": 9, "inputs": [wav], "outputs": None, "files": []})
    manifest["results"] = write_results(run_dir, manifest)
    names = {e["file"]: e["name"] for e in manifest["results"]}
    assert names[glb] == "eiffel-tower.glb" and names[str(second)] == "eiffel-tower-2.glb" and wav not in names
    assert sorted(p.name for p in (run_dir / "results").iterdir()) == [
        "eiffel-tower-2.glb",
        "eiffel-tower.glb",
        "hello-there.wav",  # the user's, untouched
        "script-alert-1-script-onerror-alert-2-x.png",
    ]


def test_a_result_titled_by_a_file_and_an_unknown_model(tmp_path: Path) -> None:
    photo, glb = tmp_path / "my photo.PNG", tmp_path / "to3d-model-1.glb"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n")
    glb.write_bytes(b"glTF")
    call = {"space": "a/b", "endpoint": "/to3d", "inputs": {"image": str(photo)}, "outputs": [str(glb)]}
    manifest = {"goal": "g", "calls": [{**call, "files": [{"local": str(glb), "direction": "out"}]}]}
    manifest["results"] = write_results(tmp_path, manifest)
    assert [e["name"] for e in manifest["results"]] == ["my-photo.glb"]
    page = write_gallery(tmp_path, manifest).read_text()
    assert "model:" not in page and "?" not in page.split('<p class="meta">')[1].split("</p>")[0]
