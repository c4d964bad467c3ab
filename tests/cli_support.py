"""Running the installed `spacechain` command in tests, and checking its one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from subprocess import run as sh
from typing import Callable

from conftest import TEST_TOKEN

SCRIPT = shutil.which("spacechain", path=str(Path(sys.executable).parent)) or shutil.which("spacechain")
assert SCRIPT, "the spacechain console script is not installed next to the test interpreter"


def cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL
    )


def assert_one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


# The same command with a full environment of its own (the Hub stand-in, a scripted LLM).
SPACECHAIN = str(Path(sys.executable).parent / "spacechain")
GOAL = "a 3D model of the Eiffel Tower"


def blob(src: str, thought: str = "Next step.") -> str:
    return f"Thought: {thought}\n<code>\n{src.strip()}\n</code>"


CHAIN = [
    blob(
        'print([h["id"] for h in search_spaces("text to image")])\nprint(get_space_api("acme/flux-lite"))\n'
        'print(get_space_api("acme/trellis-lite"))',
        "Find the Spaces.",
    ),
    blob(
        'img = run_space("acme/flux-lite", "/generate", {"prompt": "Eiffel Tower"})[0]\n'
        'prev = run_space("acme/trellis-lite", "image_to_3d", {"image": img})\n'
        'glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]\nprint(img, glb)',
        "Chain them.",
    ),
    blob('try:\n    upload_file("acme/toolbox", "/etc/passwd")\nexcept Exception as e:\n    print("upload:", e)'),
    blob('final_answer(f"Made {glb} from {img} with acme/flux-lite and acme/trellis-lite")', "Done."),
]


def cli_env(hub_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith(("SPACECHAIN_", "HF_", "LITELLM_", "PYTEST_"))
    }
    env.update(
        HF_ENDPOINT=hub_url,
        HF_TOKEN=TEST_TOKEN,
        HF_HOME=str(tmp / "hf_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        XDG_STATE_HOME=str(tmp / "state"),
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def scripted_args(*words: str, api_base: str, out: Path) -> list[str]:
    """`spacechain <words>` with the scripted LLM at `api_base` (the `llm` fixture's url) and its run folder `out`."""
    return [*words, "--model", "openai/scripted", "--api-base", api_base, "--out", str(out)]


def spacechain(args: list[str], env: dict[str, str], timeout: float = 180):
    return sh([SPACECHAIN, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=None)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def has_call(manifest_path: Path, endpoint: str) -> bool:
    """Whether a running command's manifest records a call to `endpoint` yet (it may be mid-write)."""
    try:
        calls = json.loads(manifest_path.read_text())["calls"]
    except (OSError, ValueError):
        return False
    return any(c["endpoint"] == endpoint for c in calls)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# How long a test waits for a command to end after its Ctrl-C. Generous on purpose: the command reacts at
# once (bench/interrupt.py measures it), but on a loaded machine tearing down an interpreter that imported a
# few hundred modules takes seconds; a command that ignored the Ctrl-C would still be caught.
EXIT_WAIT_S = 120.0


def interrupt(proc: subprocess.Popen) -> tuple[str, str]:
    """Send Ctrl-C (SIGINT) to a running command and collect its output once it has ended."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=EXIT_WAIT_S)
