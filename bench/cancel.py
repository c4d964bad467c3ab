"""i. What a cancel leaves behind: after a job of S seconds is cancelled once it runs, how long the next
call on that endpoint (one job at a time) waits. spacechain and gradio_client tell the Space to cancel
(`POST /gradio_api/cancel`); closing the result stream alone (the floor's opposite) leaves the job running."""

from __future__ import annotations

import tempfile
import time
import uuid

import httpx
from _common import option, timed
from _servers import loopback

from spacechain.tools import Client


def main(seconds: float) -> dict:
    with loopback(["jobs"]) as env:
        url = env["apps"]["jobs"]
        raw = httpx.Client(timeout=120)

        def running(tag: str) -> None:
            deadline = time.monotonic() + 60
            while sc.call(url, "/status", {"tag": tag}, session="watch", timeout=60)[0] != "running":
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.05)

        def next_call() -> float:
            return timed(lambda: sc.call(url, "/render", {"seconds": 0, "tag": uuid.uuid4().hex}, timeout=600))[1]

        def close_only() -> float:
            tag = uuid.uuid4().hex
            event = raw.post(f"{url}/gradio_api/call/render", json={"data": [seconds, tag]}).json()["event_id"]
            with raw.stream("GET", f"{url}/gradio_api/call/render/{event}"):
                running(tag)
            return next_call()

        def spacechain() -> float:
            tag = uuid.uuid4().hex
            job = sc.submit(url, "/render", {"seconds": seconds, "tag": tag})
            running(tag)
            job.cancel()
            job.wait()
            return next_call()

        def gradio_client() -> float:
            tag = uuid.uuid4().hex
            job = gc.submit(seconds, tag, api_name="/render")
            running(tag)
            job.cancel()
            return next_call()

        sc = Client(token=False, out_dir=tempfile.mkdtemp())
        from gradio_client import Client as GradioClient

        gc = GradioClient(url, verbose=False)
        r = {"job_s": seconds}
        ways = {"close_only_s": close_only, "gradio_client_s": gradio_client, "spacechain_s": spacechain}
        r.update({name: way() for name, way in ways.items()})
        gc.close()
        sc.close()
    r["vs_gradio_client"] = r["spacechain_s"] / r["gradio_client_s"]
    r["vs_close_only"] = r["spacechain_s"] / r["close_only_s"]
    return r


if __name__ == "__main__":
    r = main(option(__doc__, "-s", 10.0, "seconds the cancelled job would run"))
    print(
        f"next call after a cancelled {r['job_s']:g} s job waits: closing the stream only {r['close_only_s']:.2f} s | "
        f"gradio_client {r['gradio_client_s']:.2f} s | spacechain {r['spacechain_s']:.2f} s | "
        f"spacechain/gradio_client {r['vs_gradio_client']:.2f} | spacechain/close-only {r['vs_close_only']:.3f}"
    )
