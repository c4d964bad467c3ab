"""Output files are checked by their bytes: an HTML error page returned as an "image" is flagged where
the model sees it, recorded in the call, never cached and never uploaded to another Space."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from servers import Reply, sse

from spacechain.tools import Client, UploadRefused
from spacechain.tools.kinds import sniff_bytes

DATA = Path(__file__).resolve().parent / "data"
PAGE = b"<!DOCTYPE html><html><head><title>502</title></head><body>Bad Gateway</body></html>"


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(buf, "PNG")
    return buf.getvalue()


def image_space(scripted, body: bytes):
    """A text-to-image Space whose image is `body`."""
    scripted.add(
        "/gradio_api/info",
        Reply(200, {"content-type": "application/json"}, json.loads((DATA / "text2img_info.json").read_text())),
    )
    scripted.add("/config", Reply(200, {"content-type": "application/json"}, {}))
    scripted.add("/gradio_api/call/generate", Reply(200, {"content-type": "application/json"}, {"event_id": "e1"}))
    fd = {"path": "/tmp/gradio/x/image.webp", "orig_name": "image.webp", "meta": {"_type": "gradio.FileData"}}
    scripted.add("/gradio_api/call/generate/e1", sse(("complete", [fd, 7])))
    scripted.add("/gradio_api/file=", Reply(200, {"content-type": "image/webp"}, body))


def test_an_html_page_as_an_image_is_flagged_and_not_passed_on(scripted, hub_env, tmp_path: Path):
    image_space(scripted, PAGE)
    with Client(out_dir=tmp_path / "out") as client:
        image, seed = client.call(scripted.url, "/generate", {"prompt": "a cat"})
        assert seed == 7
        what = f"an HTML page that {client.space(scripted.url).label} /generate returned in place of an image"
        assert isinstance(image, dict) and image["warning"].startswith(f"this file is {what}; do not pass it on")
        (rec,) = client.records
        (f,) = [f for f in rec.files if f["direction"] == "out"]
        assert f["kind"] == "html" and f["problem"] == what
        with pytest.raises(UploadRefused, match=f"it is {what}; it is not passed on"):
            client.call("acme/toolbox", "/count_upload", {"file": image})
        with pytest.raises(UploadRefused, match="not passed on"):
            client.call("acme/toolbox", "/count_upload", {"file": image["path"]})


@pytest.mark.parametrize("as_given", ["flagged dict", "its path"])
def test_an_html_page_passed_on_as_an_image_is_named_with_the_space_that_returned_it(
    scripted, hub_env, tmp_path: Path, as_given: str
):
    from spacechain.tools import InvalidInputs

    image_space(scripted, PAGE)
    with Client(out_dir=tmp_path / "out") as client:
        image, _ = client.call(scripted.url, "/generate", {"prompt": "a cat"})
        ref = image if as_given == "flagged dict" else image["path"]
        with pytest.raises(InvalidInputs) as info:
            client.call("acme/trellis-lite", "/image_to_3d", {"image": ref})
    label, name = client.space(scripted.url).label, Path(image["path"]).name
    assert str(info.value) == (
        f"/image_to_3d: image expects an image file; got an HTML page that {label} /generate returned in place "
        f"of an image ({name}); call that endpoint again or use another Space for it."
    )


def test_a_real_image_is_recorded_with_its_kind(scripted, hub_env, tmp_path: Path):
    image_space(scripted, png())
    with Client(out_dir=tmp_path / "out") as client:
        image, _ = client.call(scripted.url, "/generate", {"prompt": "a cat"})
        assert isinstance(image, str) and Path(image).is_file()
        (f,) = [f for f in client.records[0].files if f["direction"] == "out"]
        assert f["kind"] == "png" and f["problem"] is None


@pytest.mark.parametrize(
    "head,kind",
    [
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b"GIF89a", "gif"),
        (b"glTF\x02\0\0\0", "glb"),
        (b"RIFF\0\0\0\0WAVEfmt ", "wav"),
        (b"ID3\x03", "mp3"),
        (b"OggS\0", "ogg"),
        (b"fLaC\0", "flac"),
        (b"\0\0\0\x18ftypisom", "mp4"),
        (b"\x1aE\xdf\xa3\x9fB\x86webm", "webm"),
        (b"<!doctype html><html>", "html"),
        (b'{"a": 1}', "json"),
        (b"v 0 0 0\nv 1 0 0\nf 1 2 3\n", "obj"),
        (
            b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float f_dc_0\n"
            b"property float opacity\nproperty float scale_0\nproperty float rot_0\nend_header\n",
            "ply-splat",
        ),
        (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty uchar red\nend_header\n", "ply-points"),
    ],
)
def test_kinds_are_read_from_the_bytes(head: bytes, kind: str):
    assert sniff_bytes(head, "whatever.bin") == kind


NO_GPU = {
    "error": "No GPU was available after 60s. Try re-running outside of examples",
    "title": "ZeroGPU queue timeout",
}


def noop_space(scripted, first_error: dict):
    scripted.add(
        "/gradio_api/info",
        Reply(200, {"content-type": "application/json"}, json.loads((DATA / "misc_info.json").read_text())),
    )
    scripted.add("/config", Reply(200, {"content-type": "application/json"}, {}))
    scripted.add(
        "/gradio_api/call/noop",
        Reply(200, {"content-type": "application/json"}, {"event_id": "e1"}),
        Reply(200, {"content-type": "application/json"}, {"event_id": "e2"}),
    )
    scripted.add("/gradio_api/call/noop/e1", sse(("error", first_error)))
    scripted.add("/gradio_api/call/noop/e2", sse(("complete", ["ok"])))


def test_no_gpu_available_is_submitted_again(scripted, tmp_path: Path):
    from spacechain.tools.http import RetryPolicy

    noop_space(scripted, NO_GPU)
    with Client(out_dir=tmp_path, token=False, retry=RetryPolicy(gpu_waits_s=(0.01, 0.01))) as client:
        assert client.call(scripted.url, "/noop") == ["ok"]
        (record,) = client.records  # one call, which ran at its second submission
        assert (record.status, record.event_id) == ("complete", "e2")
        assert [(r["event_id"], r["error"]["error"]) for r in record.refused] == [("e1", "gpu_unavailable")]
    assert len(scripted.requests_to("/gradio_api/call/noop")) == 4  # two submissions, two streams


def test_an_exhausted_quota_is_not_retried(scripted, tmp_path: Path):
    from spacechain.tools import QuotaExceeded

    noop_space(
        scripted,
        {
            "error": "You have exceeded your free ZeroGPU quota (60s requested vs. 30s left). Try again in 0:10:00.",
            "title": "ZeroGPU quota exceeded",
        },
    )
    with Client(out_dir=tmp_path, token=False) as client, pytest.raises(QuotaExceeded) as info:
        client.call(scripted.url, "/noop")
    assert (info.value.requested_s, info.value.left_s, info.value.retry_after_s) == (60, 30, 600)
    assert len(scripted.requests_to("/gradio_api/call/noop")) == 2  # one submission, its stream


def test_the_gallery_flags_a_file_whose_bytes_contradict_its_card(scripted, hub_env, tmp_path: Path):
    from spacechain.agent.gallery import write_gallery
    from spacechain.agent.run import Run

    image_space(scripted, PAGE)
    run = Run(tmp_path / "run", goal="a cat", model="none")
    run.client.trust(scripted.url)
    image, _ = run.client.call(scripted.url, "/generate", {"prompt": "a cat"})
    run.close()
    html = write_gallery(run.dir, run.snapshot()).read_text()
    assert f"⚠ an HTML page that {run.client.space(scripted.url).label} /generate returned in place of an image" in html
    assert f'<img src="{Path(image["path"]).name}"' not in html
