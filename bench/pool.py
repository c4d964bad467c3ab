"""h. Space pools. 12 items text→image→3D (FLUX → TRELLIS image_to_3d → extract_glb) on one Space per stage
against `spread=True` over two equivalents per stage (duplicates on the Hub stand-in; goal ≤ 0.7×), and an
agent run whose first-choice Space is paused (a scripted model: LLM steps and wall time) against the same run
with it running. Equivalents are found, confirmed and ranked inside the timed part."""

from __future__ import annotations

import copy
import tempfile

import httpx
from _common import option, timed
from _servers import loopback
from pipeline import STAGES
from scripted_model import ScriptedModel, code
from smolagents.memory import ActionStep

from spacechain.agent.run import Run
from spacechain.agent.runner import Planner
from spacechain.tools import Client
from spacechain.tools.pipeline import run_pipeline

ITEMS = [{"prompt": f"Paris landmark {i}"} for i in range(12)]
CHAIN = code(
    'img = run_space("acme/flux-lite", "/generate", {"prompt": "Eiffel Tower"})[0]\n'
    'run_space("acme/trellis-lite", "/image_to_3d", {"image": img}, session="a")\n'
    'glb = run_space("acme/trellis-lite", "/extract_glb", {}, session="a")[0]\nprint(glb)'
)


def copies(urls: dict) -> list[dict]:
    """A duplicate of each default Space, on paid hardware, served by a second copy of its app."""

    def dup(origin: str, app: str, title: str) -> dict:
        return {
            "id": f"bob/{origin.split('/')[1]}",
            "host": urls[app],
            "sdk": "gradio",
            "stage": "RUNNING",
            "hardware": "a10g-small",
            "likes": 3,
            "title": title,
            "agents_md": "v2",
            "duplicated_from": origin,
        }

    return [dup("acme/flux-lite", "text2img@b", "FLUX lite"), dup("acme/trellis-lite", "img2_3d@b", "TRELLIS lite")]


def pipelines() -> tuple[float, float]:
    times = []
    for spread in (False, True):
        with Client(out_dir=tempfile.mkdtemp()) as client:
            client.schema("acme/flux-lite"), client.schema("acme/trellis-lite")  # as in benchmark a
            rows, t = timed(lambda c=client, s=spread: run_pipeline(c, ITEMS, STAGES, spread=s))
        assert all("error" not in r for r in rows), rows
        times.append(t)
    return times[0], times[1]


def agent_run(tmp: str) -> tuple[int, float]:
    planner = Planner(
        Run(tempfile.mkdtemp(dir=tmp), goal="a 3D model", model="scripted"),
        ScriptedModel([CHAIN, code("final_answer(glb)", "Done.")]),
        max_steps=6,
    )
    result, t = timed(lambda: planner.turn("a 3D model of the Eiffel Tower"))
    planner.run.close()
    assert result.success, result
    return sum(isinstance(s, ActionStep) for s in planner.agent.memory.steps), t


def main(delay: float) -> dict:
    apps = ["text2img", "img2_3d", "text2img@b", "img2_3d@b"]
    with loopback(apps, delay=delay, spaces=copies) as env:
        one_s, spread_s = pipelines()
        running_steps, running_s = agent_run(str(env["tmp"]))
        paused = copy.deepcopy(env["config"])
        next(s for s in paused["spaces"] if s["id"] == "acme/flux-lite")["stage"] = "PAUSED"
        httpx.post(f"{env['hub']}/__config", json=paused, timeout=10).raise_for_status()
        paused_steps, paused_s = agent_run(str(env["tmp"]))
    return {
        "one_space_s": one_s,
        "spread_s": spread_s,
        "ratio": spread_s / one_s,
        "running_steps": running_steps,
        "running_s": running_s,
        "paused_steps": paused_steps,
        "paused_s": paused_s,
    }


if __name__ == "__main__":
    r = main(option(__doc__, "--delay", 0.5, help="seconds per unit of fake compute"))
    print(
        f"12 items: one Space per stage {r['one_space_s']:.2f} s | spread over two {r['spread_s']:.2f} s | "
        f"ratio {r['ratio']:.3f} (goal ≤ 0.7)\nfirst choice running: {r['running_steps']} LLM steps, "
        f"{r['running_s']:.2f} s | first choice paused: {r['paused_steps']} LLM steps, {r['paused_s']:.2f} s"
    )
