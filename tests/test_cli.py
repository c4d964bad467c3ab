"""The real `spacechain` console script, run as a subprocess against the Hub stand-in and the test apps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cli_support import SCRIPT, assert_one_error_line  # noqa: F401 - SCRIPT is used by some tests
from cli_support import cli as run

HEAVY = ("litellm", "gradio", "gradio_client", "smolagents", "huggingface_hub", "httpx")


def test_help_is_light() -> None:
    proc = run("--help")
    assert proc.returncode == 0 and proc.stderr == ""
    for command in ("inspect", "call", "search"):
        assert command in proc.stdout
    code = (
        "import sys\n"
        "from spacechain.agent.cli import main\n"
        "for argv in (['spacechain', '--help'], ['spacechain', 'call', '--help']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), e.code\n"
        "print('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"}
    )
    assert out.returncode == 0, out.stderr
    modules = set(out.stdout.rsplit("MODULES ", 1)[1].split())
    assert "typer" in modules
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_inspect(hub_env, spaces: dict[str, str]) -> None:
    proc = run("inspect", "acme/trellis-lite")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "acme/trellis-lite: Create 3D model from a single image"
    assert f"host: {spaces['img2_3d']}" in lines[1]
    endpoint_lines = [ln for ln in lines if ln.startswith("/")]
    assert [ln.split("(")[0] for ln in endpoint_lines] == ["/image_to_3d", "/extract_glb"]
    assert endpoint_lines[0].startswith("/image_to_3d(image: image file, seed: float = 0")
    assert "Traceback" not in proc.stderr


def test_inspect_json(hub_env, spaces: dict[str, str]) -> None:
    proc = run("inspect", "acme/flux-lite", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["space"] == "acme/flux-lite"
    assert doc["contract"]["host"] == spaces["text2img"] and doc["contract"]["named_inputs"] is True
    assert "text" not in doc["contract"]
    assert doc["status"]["stage"] == "RUNNING" and doc["status"]["hardware"] == "zero-a10g"
    params = doc["endpoints"]["/generate"]["parameters"]
    assert params[0] == {
        "name": "prompt",
        "label": "Prompt",
        "component": "Textbox",
        "type": "str",
        "required": True,
        "takes_files": False,
    }


def test_call_writes_file(hub_env, tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = run("call", "acme/flux-lite", "generate", "-i", "prompt=cat", "-i", "seed=5", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    path, seed = proc.stdout.splitlines()
    assert Path(path).is_file() and Path(path).parent == out and path.endswith(".png")
    assert json.loads(seed) == 5


def test_call_json(hub_env, tmp_path: Path) -> None:
    proc = run("call", "acme/toolbox", "/echo", "-i", "text=hi", "-i", "tags=x,z", "--json", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    [received] = doc["outputs"]
    assert received["tags"]["value"] == ["x", "z"]
    rec = doc["record"]
    assert (rec["space"], rec["endpoint"], rec["status"]) == ("acme/toolbox", "/echo", "complete")
    assert rec["event_id"] and rec["inputs"] == {"text": "hi", "tags": ["x", "z"]}


def test_call_keeps_text_as_text(hub_env, tmp_path: Path) -> None:
    proc = run(
        "call", "acme/toolbox", "/echo", "-i", "text=123", "-i", "count=4", "-i", "flag=yes", "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    received = json.loads(proc.stdout)
    assert received["text"] == {"value": "123", "type": "str"}
    assert received["count"] == {"value": 4, "type": "int"}
    assert received["flag"] == {"value": True, "type": "bool"}


ERROR_CASES = {
    "unknown endpoint": (["call", "acme/toolbox", "nope"], ["/nope", "/echo"]),
    "unknown input": (["call", "acme/toolbox", "echo", "-i", "colour=red"], ["colour", "valid names"]),
    "no value": (["call", "acme/toolbox", "echo", "-i", "novalue"], ["name=value", "novalue"]),
    "bad int": (["call", "acme/toolbox", "stream", "-i", "steps=abc"], ["steps", "'abc'"]),
    "bad choice": (["call", "acme/toolbox", "echo", "-i", "text=a", "-i", "choice=z"], ["choice", "a, b, c"]),
    "missing required": (["call", "acme/toolbox", "echo"], ["text"]),
    "not found": (["call", "acme/nope", "x"], ["acme/nope", "not found"]),
    "sleeping": (["call", "acme/sleepy", "noop"], ["SLEEPING"]),
    "static": (["inspect", "acme/static-site"], ["static"]),
    "bad reference": (["inspect", "not a space"], ["not a Space reference"]),
    "gr.Error": (["call", "acme/toolbox", "fail", "-i", "prompt=x"], ["Prompt is empty"]),
    "quota": (["call", "acme/toolbox", "quota"], ["quota", "588"]),
    "missing file": (
        ["call", "acme/toolbox", "count_upload", "-i", "file=/nonexistent/cat.png"],
        ["/nonexistent/cat.png", "does not exist"],
    ),
    "unknown command": (["bogus"], ["No such command", "spacechain --help"]),
    "missing argument": (["call", "acme/toolbox"], ["Missing argument", "spacechain call --help"]),
    "bad option value": (["call", "acme/toolbox", "noop", "--timeout", "soon"], ["--timeout"]),
    "negative wake": (["inspect", "acme/toolbox", "--wake", "-1"], ["--wake"]),
    "no run folder": (["replay", "/nonexistent/run"], ["manifest.json"]),
}


def test_errors_are_one_line(hub_env, tmp_path: Path) -> None:
    # Independent subprocesses: run them side by side to keep the suite fast.
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = pool.map(lambda case: run(*case[0], cwd=tmp_path), ERROR_CASES.values())
        procs = dict(zip(ERROR_CASES, results))
    for name, (args, fragments) in ERROR_CASES.items():
        proc = procs[name]
        assert proc.stdout == "", (name, proc.stdout)
        try:
            assert_one_error_line(proc, *fragments)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {args}: {exc}") from None


def test_search_json(hub_env) -> None:
    proc = run("search", "image", "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert [h["id"] for h in hits] == ["acme/flux-lite", "acme/trellis-lite"]
    assert hits[0]["title"] == "FLUX lite" and hits[0]["stage"] == "RUNNING" and hits[0]["likes"] == 120
    assert hits[0]["hardware"] == "zero-a10g" and hits[0]["description"] == "Generate images from text prompts"
    plain = run("search", "image", "--all")
    assert plain.returncode == 0
    assert [ln.split()[0] for ln in plain.stdout.splitlines()] == ["acme/flux-lite", "acme/trellis-lite", "acme/broken"]
