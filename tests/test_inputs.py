"""Inputs as models and users write them, checked and shaped before anything reaches a Space."""

from __future__ import annotations

from pathlib import Path


def test_a_path_dict_is_a_file_reference(hub_client, tmp_path: Path):
    """agents.md writes file inputs as {"path": ...}; models copy that shape."""
    f = tmp_path / "note.txt"
    f.write_bytes(b"12345")
    assert hub_client.call("acme/toolbox", "/count_upload", {"file": {"path": str(f)}}) == ["5"]


import json  # noqa: E402

import pytest  # noqa: E402
from servers import Reply  # noqa: E402

from spacechain.tools import Client, InvalidInputs  # noqa: E402
from spacechain.tools.schema import ApiSchema  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def fake_space(scripted, tmp_path: Path):
    """A Gradio-shaped server that records every request: the misc and img2_3d APIs, no compute."""
    info = json.loads((DATA / "misc_info.json").read_text())
    info["named_endpoints"].update(json.loads((DATA / "img2_3d_info.json").read_text())["named_endpoints"])
    scripted.add("/gradio_api/info", Reply(200, {"content-type": "application/json"}, info))
    scripted.add("/config", Reply(200, {"content-type": "application/json"}, {}))
    with Client(token=False, out_dir=tmp_path / "out") as client:
        yield client, scripted


def _media(tmp_path: Path) -> dict[str, Path]:
    files = {
        "song.mp3": b"ID3\x04\x00" + b"\x00" * 64,
        "notes.txt": b"just words\n",
        "page.png": b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
        "photo.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files}


@pytest.mark.parametrize(
    "endpoint,inputs,message",
    [
        ("/echo", {"text": "a", "number": "wide"}, "/echo: number expects a number; got 'wide' (str)."),
        ("/echo", {"text": "a", "count": 2.5}, "/echo: count expects an integer; got 2.5 (float)."),
        ("/echo", {"text": "a", "flag": "maybe"}, "/echo: flag expects true or false; got 'maybe' (str)."),
        ("/echo", {"text": "a", "choice": "d"}, '/echo: choice expects one of "a", "b", "c"; got \'d\' (str).'),
        ("/echo", {"text": "a", "tags": ["x", "w"]}, '/echo: tags expects items from "x", "y", "z"; got'),
        ("/echo", {"text": ["a"]}, "/echo: text expects text; got ['a'] (list)."),
        ("/echo", {"number": 1}, "/echo is missing required input(s) text"),
        ("/files", {"files": 3}, "/files: files expects a file (a local path, a URL or {'path': ...}); got 3 (int)."),
        (
            "/image_to_3d",
            {"image": "song.mp3"},
            "/image_to_3d: image expects an image file; got an MP3 file (song.mp3).",
        ),
        (
            "/image_to_3d",
            {"image": "notes.txt"},
            "/image_to_3d: image expects an image file; got plain text (notes.txt).",
        ),
        (
            "/image_to_3d",
            {"image": "page.png"},
            "/image_to_3d: image expects an image file; got an HTML page (page.png).",
        ),
        ("/image_to_3d", {"image": "https://example.invalid/clip.mp4"}, "/image_to_3d: image expects an image file"),
        ("/image_to_3d", {"image": 7}, "image expects an image file (a local path, a URL or {'path': ...}); got 7"),
        ("/image_to_3d", {"image": "photo.png", "multiimage_algo": "best"}, "multiimage_algo expects one of"),
        ("/image_to_3d", {"image": "photo.png", "texture_size": 999}, "texture_size expects one of 512, 1024, 2048"),
    ],
)
def test_a_wrong_value_is_refused_before_any_submission(fake_space, tmp_path: Path, endpoint, inputs, message):
    client, server = fake_space
    media = _media(tmp_path)
    inputs = {k: str(media[v]) if isinstance(v, str) and v in media else v for k, v in inputs.items()}
    with pytest.raises(InvalidInputs) as info:
        client.call(server.url, endpoint, inputs)
    text = str(info.value)
    assert "\n" not in text and message in text and text.startswith(endpoint)
    assert server.requests_to("/gradio_api/call") == [] and server.requests_to("/gradio_api/upload") == []


def test_values_are_normalised_to_what_the_parameter_takes():
    info = json.loads((DATA / "misc_info.json").read_text())
    info["named_endpoints"].update(json.loads((DATA / "img2_3d_info.json").read_text())["named_endpoints"])
    schema = ApiSchema.from_info(info)
    echo = schema.endpoint("/echo")
    data = echo.to_positional({"text": 5, "number": "2.5", "count": 3.0, "flag": "yes", "choice": "b", "tags": ["y"]})
    assert data[:6] == ["5", 2.5, 3, True, "b", ["y"]]
    i3d = schema.endpoint("/image_to_3d")
    data = i3d.to_positional({"image": "https://example.invalid/cat", "texture_size": "2048", "resolution": 512})
    names = i3d.param_names()
    assert data[names.index("texture_size")] == 2048 and data[names.index("resolution")] == "512"
