"""What a hostile Space (or a hostile neighbour on disk) can do to the cache, the run folder and the
manifest: real Gradio apps behind the Hub stand-in and scripted Gradio-shaped servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from servers import Reply, ScriptedServer, sse

from spacechain.agent.gallery import write_gallery
from spacechain.agent.run import Run
from spacechain.tools import Client, InvalidInputs, SpacechainError, UploadRefused
from spacechain.tools.cache import CallCache
from spacechain.tools.http import RetryPolicy

FAST = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02)
FILE_META = {"_type": "gradio.FileData"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


def leftovers(folder: Path) -> list[str]:
    """Temp files of ours (.partial-*, .manifest.json.*.tmp…) anywhere under `folder`."""
    return [str(p) for p in folder.rglob(".*") if p.is_file()]


# --------------------------------------------------------------------------- a scripted Gradio app


def _param(name: str, component: str = "Textbox", files: bool = False) -> dict:
    kind = {"type": "filepath", "description": ""} if files else {"type": "str", "description": ""}
    schema = (
        {"title": "FileData", "type": "object", "properties": {"path": {"type": "string"}}}
        if files
        else {"type": "string"}
    )
    return {
        "label": name,
        "parameter_name": name,
        "parameter_has_default": True,
        "parameter_default": None,
        "type": schema,
        "python_type": kind,
        "component": component,
    }


def _ret(component: str) -> dict:
    return {
        "label": component,
        "type": {},
        "python_type": {"type": "filepath" if component == "File" else "Any", "description": ""},
        "component": component,
    }


def gradio_app(
    srv: ScriptedServer,
    outputs: list,
    *,
    title: str = "App A",
    file_body: bytes = b"",
    returns: tuple[str, ...] = ("JSON",),
) -> ScriptedServer:
    """One endpoint /x(text, file) -> `outputs`; /config tells the cache there is no gr.State."""
    srv.script.clear()
    srv.add(
        "/gradio_api/info",
        Reply(
            200,
            body={
                "named_endpoints": {
                    "/x": {
                        "parameters": [_param("text"), _param("file", "File", files=True)],
                        "returns": [_ret(c) for c in returns],
                    }
                },
                "unnamed_endpoints": {},
            },
        ),
    )
    comps = [{"id": 1, "type": "textbox"}, {"id": 2, "type": "file"}] + [
        {"id": 3 + i, "type": c.lower()} for i, c in enumerate(returns)
    ]
    srv.add(
        "/config",
        Reply(
            200,
            body={
                "title": title,
                "app_id": int(time.time() * 1e6),
                "root": srv.url,
                "components": comps,
                "dependencies": [{"api_name": "x", "inputs": [1, 2], "outputs": [3 + i for i in range(len(returns))]}],
            },
        ),
    )
    srv.add("/gradio_api/upload", Reply(200, body=["/tmp/gradio/up/in.txt"]))
    srv.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    srv.add("/gradio_api/call/x/e1", sse(("complete", outputs)))
    srv.add("/gradio_api/file=", Reply(200, {"content-type": "application/octet-stream"}, file_body))
    return srv


def out_file(name: str = "out.bin") -> dict:
    return {"path": f"/tmp/gradio/abc/{name}", "meta": FILE_META, "orig_name": name}


def real_calls(srv: ScriptedServer) -> int:
    return len([r for r in srv.requests if r.method == "POST" and r.path == "/gradio_api/call/x"])


# --------------------------------------------------------------------------- item 2: marker-shaped outputs


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


# --------------------------------------------------------------------------- item 13: parallel hits


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


# --------------------------------------------------------------------------- item 14: URL-addressed apps


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


# --------------------------------------------------------------------------- item 19: only file parameters


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


# --------------------------------------------------------------------------- short names never overwrite


def test_an_output_never_replaces_another_file_of_the_same_name(scripted, tmp_path):
    body = b"the Space's output"
    gradio_app(scripted, [out_file("out.bin")], file_body=body, returns=("File",))
    out = tmp_path / "o"
    out.mkdir()
    expected = out / f"x-out-{sha(body)[:16]}.bin"
    expected.write_bytes(b"someone else's file, same name")
    with Client(token=False, out_dir=out, retry=FAST) as client:
        [first] = client.call(scripted.url, "x", {"text": "a"})
        [second] = client.call(scripted.url, "x", {"text": "b"})
    assert expected.read_bytes() == b"someone else's file, same name"
    assert first == second == str(out / f"x-out-{sha(body)[:16]}-2.bin")  # the same content: reused
    assert Path(first).read_bytes() == body and leftovers(out) == []


# --------------------------------------------------------------------------- item 18: links in the run folder


def test_run_folder_writes_never_follow_planted_links(scripted, local_urls, tmp_path):
    body = b"output bytes"
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "gallery.html").symlink_to(victim)
    (run_dir / f"x-out-{sha(body)[:16]}.glb").symlink_to(victim)
    (run_dir / "inputs").symlink_to(victim_dir)
    (run_dir / "assets").symlink_to(victim_dir)
    # The manifest's old temp name was predictable (pid and thread id).
    (run_dir / f".manifest.{os.getpid()}.{threading.get_ident()}.tmp").symlink_to(victim)

    gradio_app(scripted, [out_file("out.glb")], file_body=body, returns=("File",))
    third = ScriptedServer({"/in/": [Reply(200, body=b"input bytes")]}).start()
    try:
        run = Run(run_dir, goal="g", model="m", client=Client(token=False, retry=FAST))
        [glb] = run.client.call(scripted.url, "x", {"text": "t"})
        with pytest.raises(UploadRefused, match="symbolic link"):
            run.client.call(scripted.url, "x", {"text": "t", "file": f"{third.url}/in/a.txt"})
        run.close()
    finally:
        third.stop()
    assert Path(glb).read_bytes() == body and not Path(glb).is_symlink()
    viewer = tmp_path / "model-viewer.min.js"
    viewer.write_text("// viewer")
    with pytest.raises(UploadRefused, match="symbolic link"):
        write_gallery(run_dir, run.snapshot(), str(viewer))  # assets/ is a link: refused, one line
    (run_dir / "assets").unlink()
    page = write_gallery(run_dir, run.snapshot(), str(viewer))
    assert not page.is_symlink() and "x-out-" in page.read_text()
    assert (run_dir / "assets" / "model-viewer.min.js").read_text() == "// viewer"
    assert not (run_dir / "manifest.json").is_symlink() and manifest(run_dir)["status"] == "running"
    assert victim.read_text() == "untouched" and list(victim_dir.iterdir()) == []


# --------------------------------------------------------------------------- item 4: any text


def test_lone_surrogates_from_a_space_keep_the_manifest_and_gallery(scripted, local_urls, tmp_path):
    # Raw JSON escapes: what a Space's JSON may carry, decoded into lone surrogates by any JSON parser.
    srv = gradio_app(scripted, [])
    srv.script["/gradio_api/call/x/e1"] = [
        Reply(
            200, {"content-type": "text/event-stream"}, 'event: complete\ndata: [{"k\\udcff": "bad \\ud800 text"}]\n\n'
        )
    ]
    run = Run(tmp_path / "run", goal="goal \udcff", model="m", client=Client(token=False, retry=FAST))
    [out] = run.client.call(scripted.url, "x", {"text": "t"})
    assert out == {"k\udcff": "bad \ud800 text"}
    with pytest.raises(InvalidInputs, match="not valid Unicode"):  # passed on to a Space: one clear error
        run.client.call(scripted.url, "x", {"text": out["k\udcff"]})
    run.end_turn("success", "answer \ud800")
    run.close()
    m = manifest(run.dir)
    assert m["calls"][0]["outputs"] == [{"k\ufffd": "bad \ufffd text"}]
    assert m["calls"][1]["error"]["error"] == "invalid_inputs"
    assert m["calls"][1]["inputs"] == {"text": "bad \ufffd text"}
    assert real_calls(scripted) == 1
    assert (m["goal"], m["final_answer"], m["status"]) == ("goal \ufffd", "answer \ufffd", "success")
    page = write_gallery(run.dir, run.snapshot())
    assert "answer ?" in page.read_text(encoding="utf-8")
    assert leftovers(run.dir) == []


def test_cli_with_non_utf8_goal_and_answer_ends_cleanly(hub_env, llm, tmp_path):
    from cli_support import SPACECHAIN, blob, cli_env

    stub = llm(
        [
            blob('print(run_space("acme/toolbox", "/echo", {"text": "hi"}))'),
            blob('final_answer("done \\ud800 and \\udcff")'),
        ]
    )
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            os.fsencode(SPACECHAIN),
            b"run",
            b"caf\xe9 \xff goal",
            b"--model",
            b"openai/scripted",
            b"--api-base",
            stub.url.encode(),
            b"--out",
            os.fsencode(out),
        ],
        env=cli_env(hub_env.url, tmp_path),
        capture_output=True,
        timeout=180,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert proc.stdout.decode("utf-8").strip() == "done \ufffd and \ufffd"
    m = manifest(out)
    assert m["goal"] == "caf\ufffd \ufffd goal" and m["status"] == "success"
    assert m["calls"][0]["status"] == "complete"
    assert (out / "gallery.html").is_file() and leftovers(out) == []


# --------------------------------------------------------------------------- Ctrl-C, and two runs in one --out


def test_a_call_still_running_at_close_ends_cancelled(scripted, local_urls, tmp_path):
    gradio_app(scripted, [{"ok": 1}])
    scripted.script["/gradio_api/call/x/e1"] = [
        Reply(200, {"content-type": "text/event-stream"}, "event: complete\ndata: [1]\n\n", delay=8)
    ]
    run = Run(tmp_path / "run", goal="g", model="m", client=Client(token=False, retry=FAST))
    job = run.client.submit(scripted.url, "x", {"text": "slow"})
    t0 = time.monotonic()
    run.close()  # what Ctrl-C ends in: the Space never answered the stream
    assert time.monotonic() - t0 < 8
    (call,) = manifest(run.dir)["calls"]
    assert call["status"] == "error" and call["error"]["error"] == "cancelled" and call["finished_at"]
    assert job.wait(15) and job.record.status == "error"


def test_two_runs_into_one_folder_only_one_gets_it(tmp_path):
    folder = tmp_path / "run"
    barrier = threading.Barrier(8)
    won, lost = [], []

    def start() -> None:
        client = Client(token=False)
        barrier.wait()
        try:
            won.append(Run(folder, goal="g", model="m", client=client))
        except SpacechainError as exc:
            lost.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1 and len(lost) == 7
    assert all("already holds a run" in e for e in lost)
    won[0].close()
    assert manifest(folder)["goal"] == "g"
    # A run that fails while starting (a missing --file) leaves the folder free.
    with pytest.raises(UploadRefused):
        Run(tmp_path / "other", goal="g", model="m", client=Client(token=False), user_files=[str(tmp_path / "no")])
    Run(tmp_path / "other", goal="g2", model="m", client=Client(token=False)).close()
    assert manifest(tmp_path / "other")["goal"] == "g2"
