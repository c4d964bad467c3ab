"""e. The same six-item chain run twice with the call cache: Space calls made each time (goal for the
repeat: 0) and wall times."""

from __future__ import annotations

import tempfile

from _common import option, timed
from _servers import loopback
from pipeline import LANDMARKS, STAGES

from spacechain.tools import Client
from spacechain.tools.cache import CallCache
from spacechain.tools.pipeline import run_pipeline


def main(delay: float) -> dict:
    out = {}
    with loopback(["text2img", "img2_3d"], delay=delay) as env:
        cache = CallCache(env["tmp"] / "cache")
        for label in ("first", "repeat"):
            with Client(out_dir=tempfile.mkdtemp(), cache=cache) as client:
                client.schema("acme/flux-lite"), client.schema("acme/trellis-lite")
                res, out[f"{label}_s"] = timed(lambda: run_pipeline(client, [{"prompt": p} for p in LANDMARKS], STAGES))
                out[f"{label}_space_calls"] = sum(1 for r in client.records if not r.cached and r.event_id)
                assert all("error" not in r for r in res), res
    return out


if __name__ == "__main__":
    r = main(option(__doc__, "--delay", 0.5))
    print(
        f"first run {r['first_s']:.2f} s, {r['first_space_calls']} Space calls | repeat {r['repeat_s']:.3f} s, "
        f"{r['repeat_space_calls']} Space calls | speed-up {r['first_s'] / r['repeat_s']:.0f}x"
    )
