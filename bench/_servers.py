"""Start the loopback test apps and Hub stand-in for a benchmark (same ones the tests use)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from conftest import HUB_SCRIPT, default_hub_config, launch_apps  # noqa: E402
from servers import start_process, stop_process  # noqa: E402


@contextmanager
def loopback(apps: list[str], delay: float = 0.0, spaces: Callable[[dict], list[dict]] | None = None) -> Iterator[dict]:
    """{"apps": {name: url}, "hub": url, "config": the Hub's}; sets HF_ENDPOINT/HF_HOME for this process while
    it runs. `spaces(urls)` gives more Spaces for the Hub stand-in (copies of the default ones)."""
    tmp = Path(tempfile.mkdtemp(prefix="spacechain-bench-"))
    proc, urls = launch_apps(apps, tmp / "gradio", delay)
    cfg = default_hub_config({**{"text2img": None, "img2_3d": None, "misc": None}, **urls}, tmp / "headers.jsonl")
    cfg["spaces"] += spaces(urls) if spaces else []
    (tmp / "hub.json").write_text(json.dumps(cfg))
    hub_proc, hub = start_process([sys.executable, str(HUB_SCRIPT), str(tmp / "hub.json")])
    old = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_HOME", "HF_TOKEN")}
    os.environ.update(HF_ENDPOINT=hub["url"], HF_HOME=str(tmp / "hf"), HF_TOKEN="hf_bench")
    try:
        yield {"apps": urls, "hub": hub["url"], "tmp": tmp, "config": cfg}
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stop_process(hub_proc)
        stop_process(proc)
