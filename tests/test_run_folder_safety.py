"""What a hostile Space (or a hostile neighbour on disk) can do to the run folder and the manifest:
same-name outputs, planted links, text that is not valid Unicode, Ctrl-C, two runs in one folder."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from disk_support import FAST, gradio_app, leftovers, manifest, out_file, real_calls, sha
from servers import Reply, ScriptedServer

from spacechain.agent.gallery import write_gallery
from spacechain.agent.run import Run
from spacechain.tools import Client, InvalidInputs, SpacechainError, UploadRefused

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


# --------------------------------------------------------------------------- links in the run folder


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


def test_readable_copies_never_go_through_planted_links(scripted, local_urls, tmp_path):
    body = b"output bytes"
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    gradio_app(scripted, [out_file("out.glb")], file_body=body, returns=("File",))
    run = Run(tmp_path / "run", goal="g", model="m", client=Client(token=False, retry=FAST))
    run.client.call(scripted.url, "x", {"text": "tower"})
    (run.dir / "results").symlink_to(victim_dir)
    with pytest.raises(UploadRefused, match="symbolic link"):
        run.keep_results()  # results/ is a link: refused, one line
    (run.dir / "results").unlink()
    (run.dir / "results").mkdir()
    (run.dir / "results" / "tower.glb").symlink_to(victim)  # a link under the name the result gets
    run.keep_results()
    run.close()
    copy = run.dir / "results" / "tower-2.glb"  # the link is not ours: left there, never written through
    assert not copy.is_symlink() and copy.read_bytes() == body and (run.dir / "results" / "tower.glb").is_symlink()
    assert manifest(run.dir)["results"][0]["path"] == "results/tower-2.glb"
    assert victim.read_text() == "untouched" and list(victim_dir.iterdir()) == [] and leftovers(run.dir) == []


# --------------------------------------------------------------------------- any text


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
