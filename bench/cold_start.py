"""d. `spacechain --help` cold start: median wall time of fresh processes, and whether heavy modules
(litellm, gradio, smolagents, httpx) were imported."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time


def main(n: int = 15) -> dict:
    exe = shutil.which("spacechain") or os.path.join(os.path.dirname(sys.executable), "spacechain")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    probe = (
        "import sys, runpy; sys.argv=['spacechain','--help']\n"
        "try:\n    runpy.run_module('spacechain.agent.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('MODULES:' + ','.join(m for m in ('litellm','gradio','smolagents','httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    heavy = next((line[8:] for line in out.splitlines() if line.startswith("MODULES:")), "?")
    return {"median_s": statistics.median(times), "heavy_imports": heavy}


if __name__ == "__main__":
    r = main()
    print(f"spacechain --help median {r['median_s']:.3f} s | heavy modules imported: {r['heavy_imports'] or 'none'}")
