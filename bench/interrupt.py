"""j. Ctrl-C: the time from SIGINT to the end of the process, for `spacechain show` serving a gallery and for a
`spacechain run` whose agent waits on a 30-s Space call, on a quiet machine and with N busy processes
(`--busy N`, default 4: load 4 on top of whatever runs) started here and stopped by their PIDs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from _common import option
from _servers import TESTS, loopback

sys.path.insert(0, str(TESTS))
from llm_stub import LLMStub

EXE = shutil.which("spacechain") or os.path.join(os.path.dirname(sys.executable), "spacechain")
SLOW = "<code>\nprint(run_space('acme/toolbox', '/slow', {'seconds': 30}))\n</code>"


@contextmanager
def busy(n: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _after_sigint(proc: subprocess.Popen) -> float:
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=300)
    return time.perf_counter() - t0


def show_s(folder: Path, env: dict) -> float:
    proc = subprocess.Popen(
        [EXE, "show", str(folder), "--no-browser"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith("http://127.0.0.1:")
    return _after_sigint(proc)


def run_s(tmp: Path, env: dict) -> float:
    stub = LLMStub([SLOW, "<code>\nfinal_answer('never')\n</code>"]).start()
    out = Path(tempfile.mkdtemp(dir=tmp)) / "run"
    try:
        args = ["run", "wait", "--model", "openai/scripted", "--api-base", stub.url, "--out", str(out)]
        proc = subprocess.Popen([EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not _submitted(out / "manifest.json"):
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        return _after_sigint(proc)
    finally:
        stub.stop()


def _submitted(manifest: Path) -> bool:
    try:
        return any(c["endpoint"] == "/slow" for c in json.loads(manifest.read_text())["calls"])
    except (OSError, ValueError, KeyError):
        return False


def main(n_busy: int = 4, n: int = 3) -> dict:
    with loopback(["misc"]) as lb:
        env = {**os.environ, "NO_COLOR": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        folder = lb["tmp"] / "gallery"
        folder.mkdir()
        (folder / "gallery.html").write_text("<!doctype html><title>g</title>")
        (folder / "manifest.json").write_text(json.dumps({"goal": "g", "calls": []}))
        figures = {}
        for load in (0, n_busy):
            with busy(load):
                figures[load] = {
                    "show_s": statistics.median(show_s(folder, env) for _ in range(n)),
                    "run_s": statistics.median(run_s(lb["tmp"], env) for _ in range(n)),
                }
    return {"quiet": figures[0], "loaded": figures[n_busy], "busy": n_busy, "n": n}


if __name__ == "__main__":
    r = main(option(__doc__, "--busy", 4, "busy processes for the loaded figures"))
    q, lo = r["quiet"], r["loaded"]
    print(
        f"SIGINT to exit (median of {r['n']}): show {q['show_s']:.2f} s quiet, {lo['show_s']:.2f} s with "
        f"{r['busy']} busy processes ({lo['show_s'] / q['show_s']:.1f}×); run waiting on a 30-s call "
        f"{q['run_s']:.2f} s quiet, {lo['run_s']:.2f} s loaded ({lo['run_s'] / q['run_s']:.1f}×)"
    )
