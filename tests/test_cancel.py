"""Every stop frees the Space: a cancelled or timed-out call is cancelled on the Space (not only
abandoned), so the job stops there and the next call on that endpoint does not wait behind it. Against
a real Gradio app on 127.0.0.1 whose long job records whether it ran on."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from cli_support import SCRIPT
from conftest import launch_apps
from servers import stop_process

from spacechain.tools import CallTimeout, Cancelled, Client

LONG_S = 600  # far longer than any test waits: a job that ran on would hold the endpoint's queue


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, urls = launch_apps(["jobs"], tmp_path_factory.mktemp("gradio-jobs"))
    yield urls["jobs"]
    stop_process(proc)


def status(c: Client, url: str, tag: str) -> str:
    # Its own session: the render job holds the default one.
    return c.call(url, "/status", {"tag": tag}, session="watch", timeout=60)[0]


def eventually(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_cancelled_call_is_cancelled_on_the_space(farm: str, tmp_path: Path) -> None:
    with Client(token=False, out_dir=tmp_path) as c:
        job = c.submit(farm, "/render", {"seconds": LONG_S, "tag": "cancel"})
        eventually(lambda: status(c, farm, "cancel") == "running", "the job never started")
        job.cancel()
        with pytest.raises(Cancelled):
            job.result(timeout=60)
        assert job.record.status == "error" and job.record.error["error"] == "cancelled"
        eventually(lambda: status(c, farm, "cancel") == "cancelled", "the job ran on after the cancel")
        # The endpoint (one job at a time) is free: the next call does not wait behind the abandoned one.
        assert c.call(farm, "/render", {"seconds": 0, "tag": "next"}, timeout=60) == ["rendered next"]


def test_a_call_past_its_timeout_is_cancelled_on_the_space(farm: str, tmp_path: Path) -> None:
    with Client(token=False, out_dir=tmp_path) as c:
        with pytest.raises(CallTimeout):
            c.call(farm, "/render", {"seconds": LONG_S, "tag": "late"}, timeout=5)
        assert c.call(farm, "/render", {"seconds": 0, "tag": "after"}, timeout=60) == ["rendered after"]
        assert status(c, farm, "late") in ("cancelled", "unknown")  # stopped there, or never started


def test_ctrl_c_on_spacechain_call_cancels_the_job_on_the_space(farm: str, tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}
    args = [SCRIPT, "call", farm, "/render", "-i", f"seconds={LONG_S}", "-i", "tag=ctrl-c", "--out", str(tmp_path)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        with Client(token=False, out_dir=tmp_path) as c:
            eventually(lambda: status(c, farm, "ctrl-c") == "running", "the job never started")
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
            assert proc.returncode != 0
            eventually(lambda: status(c, farm, "ctrl-c") == "cancelled", "the job ran on after Ctrl-C")
            assert c.call(farm, "/render", {"seconds": 0, "tag": "then"}, timeout=60) == ["rendered then"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
