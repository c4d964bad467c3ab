"""b. Per-call latency on a no-op endpoint over loopback, client reused, median of N calls:
spacechain vs gradio_client's Client.predict vs a bare httpx POST + SSE read (the floor)."""

from __future__ import annotations

import tempfile

import httpx
from _common import median_s, option
from _servers import loopback

from spacechain.tools import Client


def median_ms(fn, n: int) -> float:
    return median_s(fn, n, warmup=5) * 1000


def main(n: int) -> dict:
    with loopback(["misc"]) as env:
        url = env["apps"]["misc"]
        raw = httpx.Client()

        def floor() -> None:
            # With a session, like spacechain (a new session per call costs the server more).
            event = raw.post(f"{url}/gradio_api/call/noop", json={"data": [], "session_hash": "floor"}).json()[
                "event_id"
            ]
            with raw.stream("GET", f"{url}/gradio_api/call/noop/{event}") as resp:
                # Read to the end (the server closes the stream after `complete`) so the pooled
                # connection is reused, as any client that reads the whole event would.
                assert any(line.startswith("event: complete") for line in resp.iter_lines())

        sc = Client(out_dir=tempfile.mkdtemp())
        sc.schema("acme/toolbox")
        from gradio_client import Client as GradioClient

        gc = GradioClient(url, verbose=False)
        r = {
            "floor_ms": median_ms(floor, n),
            "spacechain_ms": median_ms(lambda: sc.call("acme/toolbox", "/noop"), n),
            "gradio_client_ms": median_ms(lambda: gc.predict(api_name="/noop"), n),
        }
        gc.close()
        sc.close()
    r["vs_gradio_client"] = r["spacechain_ms"] / r["gradio_client_ms"]
    r["vs_floor"] = r["spacechain_ms"] / r["floor_ms"]
    return r


if __name__ == "__main__":
    r = main(option(__doc__, "-n", 60))
    print(
        f"floor {r['floor_ms']:.1f} ms | spacechain {r['spacechain_ms']:.1f} ms | gradio_client "
        f"{r['gradio_client_ms']:.1f} ms | spacechain/gradio_client {r['vs_gradio_client']:.3f} | "
        f"spacechain/floor {r['vs_floor']:.2f}"
    )
