"""gr.Workflow graphs both ways: `spacechain export RUN --workflow` on a six-landmark run and a figurine run
(photo + prompt → portrait → 3D), the graphs loaded by gradio 6.31's own gr.Workflow and drawn on its canvas
in Chromium, and `spacechain replay workflow.json` (exported, or written by hand in the guide's format, with
--set, --items and --dry-run) against the test Spaces behind the Hub stand-in."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from agent_support import make_planner
from artifacts_check import glb_source, sha256
from cli_support import cli_env, error_lines, manifest, spacechain
from PIL import Image
from scripted_model import code
from servers import start_process, stop_process

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SIX = ["Eiffel Tower", "Louvre", "Notre-Dame", "Arc de Triomphe", "Sacre-Coeur", "Pont Neuf"]
PORTRAIT = "a clay figurine, studio light"


def complete(m: dict) -> list[dict]:
    return [c for c in m["calls"] if c["status"] == "complete"]


def png_text(path: str) -> dict:
    with Image.open(path) as img:
        return dict(img.text)


def by_session(m: dict) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for c in complete(m):
        out.setdefault(c["session"], {})[c["endpoint"]] = c
    return out


def record(tmp: Path, goal: str, src: str, files: list[str] | None = None) -> Path:
    planner, run, _ = make_planner(tmp, [code(src)], goal=goal, files=files, run_dir=tmp / "run")
    try:
        assert planner.turn(goal).success
    finally:
        run.close()
    return run.dir


@pytest.fixture
def paris(hub_env, tmp_path) -> Path:
    """A run folder of the seed goal, planned as the prompt teaches (one run_pipeline of six items)."""
    src = (
        f"rows = run_pipeline([{{'prompt': p}} for p in {SIX!r}], [\n"
        '    {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "{prompt}", "seed": 7}},\n'
        '    {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},\n'
        '    {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}}])\n'
        'final_answer([r["outputs"][2][0] for r in rows])'
    )
    return record(tmp_path, "a 3D gallery of six Paris landmarks", src)


@pytest.fixture
def portrait_space(hub_env, app_launcher) -> str:
    """acme/portrait (photo + prompt → portrait) served by this test's own app process, known to the Hub."""
    url = app_launcher(["portrait"])["portrait"]
    cfg = json.loads(json.dumps(hub_env.config))
    base = next(s for s in cfg["spaces"] if s["id"] == "acme/flux-lite")
    cfg["spaces"].append({**base, "id": "acme/portrait", "host": url, "title": "Portrait", "sha": "1" * 40})
    hub_env.set_config(cfg)
    return url


@pytest.fixture
def figurine(portrait_space, tmp_path) -> tuple[Path, Path]:
    """A figurine run: the user's photo and a prompt → acme/portrait → acme/trellis-lite → GLB."""
    photo = tmp_path / "cat.png"
    Image.new("RGB", (40, 40), (200, 120, 40)).save(photo)
    src = (
        f'img = run_space("acme/portrait", "/stylize", {{"image": "{photo}", "prompt": "{PORTRAIT}"}})[0]\n'
        'run_space("acme/trellis-lite", "/image_to_3d", {"image": img, "seed": 3})\n'
        'final_answer(run_space("acme/trellis-lite", "/extract_glb", {})[0])'
    )
    return record(tmp_path, "a figurine of my cat", src, files=[str(photo)]), photo


def export(run_dir: Path, env: dict, out: Path) -> tuple[dict, str]:
    res = spacechain(["export", str(run_dir), "--workflow", str(out)], env)
    assert res.returncode == 0, res.stderr
    return json.loads(out.read_text()), res.stderr


def gradio_loads(graph_path: Path) -> list[dict]:
    """What gradio 6.31's own code makes of the graph: gr.Workflow builds its app from it, and its API
    describes one endpoint per connected pipeline."""
    import gradio as gr
    from gradio.workflow_api import WorkflowGraph, describe_workflow_api

    wf = gr.Workflow(graph=str(graph_path))
    assert wf is not None
    graph = WorkflowGraph.from_json(graph_path.read_text())
    assert graph is not None  # None: gradio found it malformed
    return describe_workflow_api(graph)


def test_six_landmark_run_exports_a_graph_gradio_loads(paris, hub_env, tmp_path):
    env = cli_env(hub_env.url, tmp_path)
    graph, stderr = export(paris, env, tmp_path / "workflow.json")
    assert graph["schema_version"] == "2" and graph["name"] == "a 3D gallery of six Paris landmarks"
    refs, ops, subs = graph["references"], graph["operators"], graph["subjects"]
    assert sorted(r["data"]["out"] for r in refs) == sorted(SIX) and {r["asset_type"] for r in refs} == {"text"}
    assert len(ops) == 18 and {o["kind"] for o in ops} == {"space"}
    generate = next(o for o in ops if o["endpoint"] == "/generate")
    assert [p["id"] for p in generate["inputs"]][:2] == ["prompt", "seed"]  # every parameter, in order
    assert generate["inputs"][0] == {"id": "prompt", "label": "Prompt", "type": "text", "required": True}
    assert generate["data"] == {"seed": 7} and generate["outputs"][0]["type"] == "image"
    # Each image goes on by an edge; each extract_glb is tied to its image_to_3d's State; six GLB results.
    to_3d = [e for e in graph["edges"] if e["to_port_id"] == "image"]
    assert len(to_3d) == 6 and {e["type"] for e in to_3d} == {"image"}
    extracts = [o for o in ops if o["endpoint"] == "/extract_glb"]
    assert all(next(x for x in ops if x["id"] == o["state_from"])["endpoint"] == "/image_to_3d" for o in extracts)
    assert len(subs) == 6 and {s["asset_type"] for s in subs} == {"model3d"}
    notes = [line for line in stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "gr.State" in notes[0] and "new session" in notes[0]
    # gradio makes one API endpoint per connected pipeline ending in a result: each extract_glb, whose only
    # link to its image_to_3d is the session's State (what the note says gr.Workflow cannot run).
    endpoints = gradio_loads(tmp_path / "workflow.json")
    assert len(endpoints) == 6 and all(ep["returns"][0]["type"] == "model3d" for ep in endpoints)


def test_export_then_replay_reproduces_the_six_landmark_calls(paris, hub_env, tmp_path):
    env = cli_env(hub_env.url, tmp_path)
    export(paris, env, tmp_path / "workflow.json")
    out = tmp_path / "again"
    res = spacechain(["replay", str(tmp_path / "workflow.json"), "--out", str(out), "--json"], env)
    assert res.returncode == 0, res.stderr
    assert Path(json.loads(res.stdout)["gallery"]).is_file()
    before, after = manifest(paris), manifest(out)
    assert after["status"] == "success" and after["model"] == "replay (no LLM)"

    def calls(m: dict) -> list:
        made = {f["local"] for c in m["calls"] for f in c["files"] if f["direction"] == "out"}
        return sorted(
            json.dumps([c["space"], c["endpoint"], {k: v for k, v in c["inputs"].items() if v not in made}])
            for c in complete(m)
        )

    assert calls(after) == calls(before)  # the same 18 calls with the same inputs
    images = {c["outputs"][0]: c["inputs"]["prompt"] for c in complete(after) if c["endpoint"] == "/generate"}
    made = []
    for item in by_session(after).values():
        if "/image_to_3d" in item:  # each GLB from the image its own landmark's /generate made
            image = item["/image_to_3d"]["inputs"]["image"]
            assert glb_source(item["/extract_glb"]["outputs"][0]) == sha256(image)
            made.append(png_text(image)["prompt"])
            assert made[-1] == images[image]
    assert sorted(made) == sorted(SIX)
    assert (out / "gallery.html").read_text().count("<model-viewer") >= 6


def test_figurine_graph_needs_the_photo_named_and_reproduces_the_chain(figurine, hub_env, tmp_path):
    run_dir, photo = figurine
    env = cli_env(hub_env.url, tmp_path)
    graph, stderr = export(run_dir, env, tmp_path / "figurine.json")
    kinds = {r["asset_type"]: r["data"]["out"] for r in graph["references"]}
    assert kinds == {"image": str(photo), "text": PORTRAIT}
    stylize = next(o for o in graph["operators"] if o["endpoint"] == "/stylize")
    feeds = {e["to_port_id"]: e["type"] for e in graph["edges"] if e["to_node_id"] == stylize["id"]}
    assert feeds == {"image": "image", "prompt": "text"}
    assert [s["asset_type"] for s in graph["subjects"]] == ["model3d"]
    assert len(gradio_loads(tmp_path / "figurine.json")) == 1
    # A file in a graph is uploaded only when the user names it.
    res = spacechain(["replay", str(tmp_path / "figurine.json"), "--out", str(tmp_path / "refused")], env)
    assert res.returncode != 0 and len(error_lines(res.stderr)) == 1 and "--file" in res.stderr
    assert "Traceback" not in res.stderr
    out = tmp_path / "replayed"
    args = ["replay", str(tmp_path / "figurine.json"), "--file", str(photo), "--set", "prompt=a tin robot"]
    res = spacechain([*args, "--out", str(out), "--no-cache"], env)
    assert res.returncode == 0, res.stderr
    calls = {c["endpoint"]: c for c in complete(manifest(out))}
    portrait = calls["/stylize"]["outputs"][0]
    assert png_text(portrait) == {"prompt": "a tin robot", "source_sha256": sha256(str(photo))}
    assert calls["/image_to_3d"]["inputs"]["seed"] == 3
    assert glb_source(calls["/extract_glb"]["outputs"][0]) == sha256(portrait)
    assert calls["/image_to_3d"]["session"] == calls["/extract_glb"]["session"]


HAND = {
    "schema_version": "2",
    "name": "Prompt to 3D",
    "references": [
        {
            "id": "ref_prompt",
            "label": "Prompt",
            "role": "reference",
            "asset_type": "text",
            "inputs": [{"id": "in", "label": "Text", "type": "text"}],
            "outputs": [{"id": "out", "label": "Text", "type": "text"}],
            "data": {"out": "a lighthouse"},
        }
    ],
    "operators": [
        {
            "id": "op_flux",
            "label": "FLUX lite",
            "role": "operator",
            "kind": "space",
            "space_id": "acme/flux-lite",
            "endpoint": "/generate",
            "inputs": [{"id": "p", "label": "Prompt", "type": "text", "required": True}],
            "outputs": [{"id": "img", "label": "Image", "type": "image", "output_index": 0}],
        },
        {
            "id": "op_3d",
            "label": "TRELLIS",
            "role": "operator",
            "kind": "space",
            "space_id": "acme/trellis-lite",
            "endpoint": "/image_to_3d",
            "inputs": [{"id": "image", "label": "Image Prompt", "type": "image", "required": True}],
            "outputs": [{"id": "out_0", "label": "Preview", "type": "model3d", "output_index": 0}],
        },
        {
            "id": "op_glb",
            "label": "Extract GLB",
            "role": "operator",
            "kind": "space",
            "space_id": "acme/trellis-lite",
            "endpoint": "/extract_glb",
            "inputs": [],
            "outputs": [{"id": "out_0", "label": "GLB", "type": "model3d", "output_index": 0}],
        },
    ],
    "subjects": [
        {
            "id": "sub_glb",
            "label": "Model",
            "role": "subject",
            "asset_type": "model3d",
            "inputs": [{"id": "in", "label": "Model", "type": "model3d"}],
            "outputs": [{"id": "out", "label": "Model", "type": "model3d"}],
        }
    ],
    "edges": [
        {"id": "e1", "from_node_id": "ref_prompt", "from_port_id": "out", "to_node_id": "op_flux", "to_port_id": "p"},
        {"id": "e2", "from_node_id": "op_flux", "from_port_id": "img", "to_node_id": "op_3d", "to_port_id": "image"},
        {"id": "e3", "from_node_id": "op_glb", "from_port_id": "out_0", "to_node_id": "sub_glb", "to_port_id": "in"},
    ],
}


def test_a_graph_written_by_hand_runs_with_its_stateful_pair_in_one_session(hub_env, tmp_path):
    """The guide's format, ports named as the author likes (matched by label, else position), no x/y, and an
    extract_glb with no edge at all: it takes the State image_to_3d left, in the same session."""
    env = cli_env(hub_env.url, tmp_path)
    (tmp_path / "hand.json").write_text(json.dumps(HAND))
    out = tmp_path / "hand"
    res = spacechain(["replay", str(tmp_path / "hand.json"), "--set", "Prompt=Louvre", "--out", str(out)], env)
    assert res.returncode == 0, res.stderr
    m = manifest(out)
    calls = {c["endpoint"]: c for c in complete(m)}
    image = calls["/generate"]["outputs"][0]
    assert calls["/generate"]["inputs"] == {"prompt": "Louvre"} and png_text(image)["prompt"] == "Louvre"
    assert glb_source(calls["/extract_glb"]["outputs"][0]) == sha256(image)
    assert m["goal"] == "Prompt to 3D (gr.Workflow graph)" and m["status"] == "success"


def test_items_run_the_graph_once_per_line_pipelined(hub_env, tmp_path):
    env = cli_env(hub_env.url, tmp_path)
    (tmp_path / "hand.json").write_text(json.dumps(HAND))
    items = tmp_path / "items.jsonl"
    items.write_text('{"prompt": "Louvre"}\n\n{"ref_prompt": "Pont Neuf"}\n{"Prompt": "Notre-Dame"}\n')
    out = tmp_path / "batch"
    res = spacechain(["replay", str(tmp_path / "hand.json"), "--items", str(items), "--out", str(out)], env)
    assert res.returncode == 0, res.stderr
    groups = [g for g in by_session(manifest(out)).values() if "/extract_glb" in g]
    assert len(groups) == 3  # each line in sessions of its own
    prompts = []
    for item in groups:
        image = item["/image_to_3d"]["inputs"]["image"]
        prompts.append(png_text(image)["prompt"])
        assert glb_source(item["/extract_glb"]["outputs"][0]) == sha256(image)
    assert sorted(prompts) == ["Louvre", "Notre-Dame", "Pont Neuf"]


def test_graph_errors_are_one_line(hub_env, tmp_path):
    env = cli_env(hub_env.url, tmp_path)
    hand = tmp_path / "hand.json"
    hand.write_text(json.dumps(HAND))
    model = json.loads(json.dumps(HAND))
    model["operators"].append(
        {"id": "op_flux_model", "label": "FLUX.1", "kind": "model", "model_id": "black-forest-labs/FLUX.1-schnell"}
    )
    model["operators"].append({"id": "op_fn", "label": "summarize", "kind": "fn", "fn": "summarize"})
    (tmp_path / "model.json").write_text(json.dumps(model))
    (tmp_path / "v1.json").write_text(json.dumps({"version": "1", "nodes": []}))
    (tmp_path / "bad.jsonl").write_text('{"prompt": "ok"}\n["not", "an object"]\n')
    cases = {
        "FLUX.1 (model), summarize (fn)": ["replay", str(tmp_path / "model.json")],
        'schema_version": "2"': ["replay", str(tmp_path / "v1.json")],
        "its inputs: prompt, ref_prompt": ["replay", str(hand), "--set", "nosuch=1"],
        "line 2 is not a JSON object": ["replay", str(hand), "--items", str(tmp_path / "bad.jsonl")],
        "give a workflow.json": ["replay", str(tmp_path / "nope"), "--items", str(tmp_path / "bad.jsonl")],
    }
    for fragment, args in cases.items():
        res = spacechain(args, env)
        assert res.returncode != 0 and len(error_lines(res.stderr)) == 1, (args, res.stderr)
        assert fragment in res.stderr and "Traceback" not in res.stderr, res.stderr
    hub_env.update_space("acme/trellis-lite", stage="RUNTIME_ERROR")
    res = spacechain(["replay", str(hand), "--dry-run", "--json"], env)
    assert res.returncode != 0 and "acme/trellis-lite is not running" in res.stderr
    assert json.loads(res.stdout)["ok"] is False
    assert not [p for p in tmp_path.iterdir() if (p / "manifest.json").exists()]  # nothing ran


def test_dry_run_checks_a_graph_without_calling(hub_env, tmp_path):
    env = cli_env(hub_env.url, tmp_path)
    (tmp_path / "hand.json").write_text(json.dumps(HAND))
    res = spacechain(["replay", str(tmp_path / "hand.json"), "--dry-run"], env)
    assert res.returncode == 0 and "ok: all 3 call(s) would run" in res.stdout, res.stderr
    wrong = json.loads(json.dumps(HAND))
    wrong["edges"][1]["from_port_id"] = "img"
    wrong["operators"][0]["outputs"][0]["output_index"] = 1  # the seed (a number) into an image input
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    res = spacechain(["replay", str(tmp_path / "wrong.json"), "--dry-run"], env)
    assert res.returncode != 0 and "/image_to_3d: image expects a" in res.stderr and "got 0.0" in res.stderr, res.stderr


def test_the_exported_graph_renders_on_gradios_canvas(figurine, hub_env, tmp_path):
    """gr.Workflow serves the exported figurine graph and its canvas draws every node in Chromium."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium (.ci/run installs it)")
    run_dir, _ = figurine
    env = cli_env(hub_env.url, tmp_path)
    graph, _ = export(run_dir, env, tmp_path / "workflow.json")
    app_env = {**env, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    proc, ready = start_process(
        [sys.executable, str(TESTS / "workflow_app.py"), str(tmp_path / "workflow.json")], app_env, 120
    )
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1760, "height": 600})
            page.set_default_timeout(60_000)
            page.goto(ready["url"])
            page.get_by_text("Workflow", exact=True).click()  # gradio opens on the app view; the canvas is a tab
            for op in graph["operators"]:
                page.get_by_text(op["label"], exact=False).first.wait_for()
            page.wait_for_function(  # the prompt reference's card holds the run's prompt
                "text => [...document.querySelectorAll('textarea')].some(t => t.value === text)", arg=PORTRAIT
            )
            drawn = "n => document.querySelectorAll('svg path').length >= n"
            page.wait_for_function(drawn, arg=len(graph["edges"]))  # every edge drawn before the picture
            DATA.mkdir(exist_ok=True)
            page.screenshot(path=str(DATA / "workflow.png"))
            browser.close()
    finally:
        stop_process(proc)
    assert (DATA / "workflow.png").stat().st_size > 10_000
