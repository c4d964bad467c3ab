"""d. `spacechain --help` cold start: median wall time of fresh processes, and whether heavy modules
(litellm, gradio, smolagents, httpx) were imported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from _common import median_s


def main(n: int = 15) -> dict:
    exe = shutil.which("spacechain") or os.path.join(os.path.dirname(sys.executable), "spacechain")
    median = median_s(lambda: subprocess.run([exe, "--help"], check=True, capture_output=True), n)
    probe = (
        "import sys; sys.argv=['spacechain','--help']\n"
        "try:\n    from spacechain.agent.cli import main\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES:' + ','.join(m for m in ('litellm','gradio','smolagents','httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    heavy = next((line[8:] for line in out.splitlines() if line.startswith("MODULES:")), "?")
    return {"median_s": median, "heavy_imports": heavy}


if __name__ == "__main__":
    r = main()
    print(f"spacechain --help median {r['median_s']:.3f} s | heavy modules imported: {r['heavy_imports'] or 'none'}")
