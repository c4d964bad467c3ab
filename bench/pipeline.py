"""a. Six items through text→image→3D (a stateful two-endpoint Space): a sequential loop written like
the seed tutorial's agent vs spacechain's pipelined fan-out. Prints both times, their ratio, and the
ratio to the pipeline bound (first-stage time + 6 × the slowest stage time)."""

from __future__ import annotations

import tempfile

from _common import option, timed
from _servers import loopback

from spacechain.tools import Client
from spacechain.tools.pipeline import run_pipeline

LANDMARKS = ["Eiffel Tower", "Louvre", "Notre-Dame", "Arc de Triomphe", "Sacré-Cœur", "Pont Neuf"]
STAGES = [
    {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "{prompt}"}},
    {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},
    {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}},
]
# Compute delays of the test apps, in units of SPACECHAIN_TEST_DELAY (tests/apps/spaces.py).
STAGE_UNITS = [1.0, 1.5, 0.5]


def sequential(client: Client) -> list[str]:
    models = []
    for i, name in enumerate(LANDMARKS):
        image = client.call("acme/flux-lite", "/generate", {"prompt": name})[0]
        client.call("acme/trellis-lite", "/image_to_3d", {"image": image}, session=f"seq-{i}")
        models.append(client.call("acme/trellis-lite", "/extract_glb", {}, session=f"seq-{i}")[0])
    return models


def main(delay: float) -> dict:
    with loopback(["text2img", "img2_3d"], delay=delay):
        with Client(out_dir=tempfile.mkdtemp()) as client:
            client.schema("acme/flux-lite"), client.schema("acme/trellis-lite")  # resolve outside the timing
            seq, t_seq = timed(lambda: sequential(client))
            res, t_pipe = timed(lambda: run_pipeline(client, [{"prompt": p} for p in LANDMARKS], STAGES))
    assert len(seq) == 6 and all("error" not in r for r in res), res
    bound = delay * (STAGE_UNITS[0] + len(LANDMARKS) * max(STAGE_UNITS))
    return {
        "sequential_s": t_seq,
        "pipelined_s": t_pipe,
        "speedup": t_seq / t_pipe,
        "bound_s": bound,
        "ratio_to_bound": t_pipe / bound,
    }


if __name__ == "__main__":
    r = main(option(__doc__, "--delay", 0.5, help="seconds per unit of fake compute"))
    print(
        f"sequential {r['sequential_s']:.2f} s | pipelined {r['pipelined_s']:.2f} s | "
        f"speed-up {r['speedup']:.2f}x | bound {r['bound_s']:.2f} s | pipelined/bound {r['ratio_to_bound']:.3f}"
    )
