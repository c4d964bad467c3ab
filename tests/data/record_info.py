"""Re-record the /gradio_api/info snapshots used by tests/test_schema.py.

Run from the repo root:  python tests/data/record_info.py
It launches the test apps on 127.0.0.1, saves each app's /gradio_api/info here, and replaces the
ephemeral base URL (it appears in code_snippets) by http://localhost:7860 so the files are stable.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import launch_apps  # noqa: E402
from servers import stop_process  # noqa: E402

STABLE_HOST = "http://localhost:7860"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, urls = launch_apps(["text2img", "img2_3d", "misc", "big"], Path(tmp))
        try:
            for name, url in urls.items():
                text = httpx.get(f"{url}/gradio_api/info", timeout=30).text.replace(url, STABLE_HOST)
                info = json.loads(text)
                (HERE / f"{name}_info.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
                print(f"{name}: {len(text)} chars")
        finally:
            stop_process(proc)


if __name__ == "__main__":
    main()
