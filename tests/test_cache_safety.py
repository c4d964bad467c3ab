"""What a hostile Space (or a hostile neighbour on disk) can do to the call cache: outputs shaped like
cache markers, tampered entries, parallel hits, another app at the same URL, what the key reads."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from disk_support import FAST, gradio_app, manifest, out_file, real_calls, sha

from spacechain.agent.run import Run
from spacechain.tools import Client, UploadRefused
from spacechain.tools.cache import CallCache

# --------------------------------------------------------------------------- marker-shaped outputs


@pytest.mark.parametrize("shape", ["absolute", "dotdot"])
def test_space_json_shaped_like_a_cache_marker_comes_back_as_data(hub_env, tmp_path, shape):
    secret = tmp_path / "secret.txt"
    secret.write_text("private key")
    name = str(secret) if shape == "absolute" else "../../../../../../../../../../../.." + str(secret)
    cache = CallCache(tmp_path / "cache")
    hostile = {"__file__": name}
    outs = []
    for folder in ("a", "b"):
        run = Run(tmp_path / folder, goal="g", model="m", cache=cache)
        outs.append(run.client.call("acme/toolbox", "/echo", {"text": "t", "data": hostile}))
        run.close()
        rec = run.client.records[-1]
        assert rec.cached is (folder == "b")
        # The Space's own dict is data: no file restored, nothing the run may upload.
        assert outs[-1][0]["data"]["value"] == hostile
        assert rec.files == [] and run.produced_files() == []
        with pytest.raises(UploadRefused):
            run.check_upload(str(secret))
        assert manifest(run.dir)["files"] == []
    assert outs[0] == outs[1]
    assert secret.read_text() == "private key"
    assert not any(p.name == "secret.txt" for p in (tmp_path / "b").rglob("*"))


def test_only_files_the_cache_stored_are_restored_and_only_into_the_output_folder(hub_env, tmp_path):
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        [shots] = client.call("acme/toolbox", "/gallery", {"n": 1})
    image = shots[0]["image"]
    (entry,) = (tmp_path / "cache").glob("*/*/entry.json")
    meta = json.loads(entry.read_text())
    assert meta["files"] == [{"at": [0, 0, "image"], "name": Path(image).name, "sha256": sha(Path(image).read_bytes())}]
    # An untouched entry restores its file into the new output folder, at the recorded place.
    with Client(out_dir=tmp_path / "b", cache=cache) as client:
        [again] = client.call("acme/toolbox", "/gallery", {"n": 1})
        assert client.records[-1].cached
    assert Path(again[0]["image"]).parent == tmp_path / "b"
    assert Path(again[0]["image"]).read_bytes() == Path(image).read_bytes()
    # A tampered entry (a name with a folder, a name not in files/, a link in files/) is a miss.
    outside = tmp_path / "outside.txt"
    outside.write_text("not from the cache")
    (entry.parent / "files" / "link.png").symlink_to(outside)
    for bad in (os.path.relpath(outside, entry.parent / "files"), str(outside), "missing.png", "link.png"):
        entry.write_text(json.dumps({**meta, "files": [{**meta["files"][0], "name": bad}]}))
        assert cache.get(entry.parent.name, tmp_path / "c") is None, bad
    assert not (tmp_path / "c").exists() or list((tmp_path / "c").iterdir()) == []


# --------------------------------------------------------------------------- parallel hits


def test_parallel_identical_cache_hits_never_see_a_half_copied_file(scripted, tmp_path):
    body = os.urandom(24 << 20)
    gradio_app(scripted, [out_file()], file_body=body, returns=("File",))
    cache = CallCache(tmp_path / "cache")
    with Client(token=False, out_dir=tmp_path / "a", cache=cache, retry=FAST) as client:
        client.call(scripted.url, "x", {"text": "same"})
    with Client(token=False, out_dir=tmp_path / "b", cache=cache, retry=FAST) as client:
        results: list = []

        def hit(i: int) -> None:
            [path] = client.call(scripted.url, "x", {"text": "same"}, session=f"s{i}")
            results.append((sha(Path(path).read_bytes()), client.records[-1]))

        threads = [threading.Thread(target=hit, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert real_calls(scripted) == 1 and len(results) == 6
    for digest, _ in results:
        assert digest == sha(body)
    assert {f["sha256"] for r in client.records for f in r.files} == {sha(body)}
    assert [p.name for p in (tmp_path / "b").iterdir()] == [Path(client.records[0].files[0]["local"]).name]


# --------------------------------------------------------------------------- URL-addressed apps


def test_cache_entries_for_a_url_belong_to_the_app_served_there(scripted, tmp_path):
    cache = CallCache(tmp_path / "cache")

    def call(folder: str) -> tuple[list, bool]:
        with Client(token=False, out_dir=tmp_path / folder, cache=cache, retry=FAST) as client:
            out = client.call(scripted.url, "x", {"text": "hello"})
            return out, client.records[-1].cached

    gradio_app(scripted, [{"answer": "from app A"}], title="App A")
    assert call("a") == ([{"answer": "from app A"}], False)
    gradio_app(scripted, [{"answer": "from app A"}], title="App A")  # relaunched: a new app_id
    assert call("b") == ([{"answer": "from app A"}], True)  # the same app: cached
    gradio_app(scripted, [{"answer": "from app B"}], title="App B")  # another app at the same URL
    assert call("c") == ([{"answer": "from app B"}], False)
    assert call("d") == ([{"answer": "from app B"}], True)
    assert real_calls(scripted) == 2


# --------------------------------------------------------------------------- only file parameters


def test_cache_key_reads_only_file_parameters(scripted, tmp_path):
    named = tmp_path / "notes.txt"
    named.write_text("v1")
    upload = tmp_path / "upload.txt"
    upload.write_text("u1")
    gradio_app(scripted, [{"ok": 1}])
    cache = CallCache(tmp_path / "cache")
    with Client(token=False, out_dir=tmp_path / "o", cache=cache, retry=FAST) as client:

        def cached(inputs: dict) -> bool:
            client.call(scripted.url, "x", inputs)
            return client.records[-1].cached

        assert not cached({"text": str(named)})
        named.write_text("v2")  # a text that names a file is text: its content is not part of the key
        assert cached({"text": str(named)})
        assert not cached({"text": "t", "file": str(upload)})
        upload.write_text("u2")  # a file parameter's content is
        assert not cached({"text": "t", "file": str(upload)})
        assert cached({"text": "t", "file": str(upload)})
