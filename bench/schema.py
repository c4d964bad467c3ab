"""c. Schema compaction on a large Space-shaped app: the compact API text vs the raw /gradio_api/info,
and vs gradio_client's view_api() text for the same app."""

from __future__ import annotations

import contextlib
import io

import httpx
from _servers import loopback

from spacechain.tools.schema import ApiSchema


def main() -> dict:
    with loopback(["big"]) as env:
        url = env["apps"]["big"]
        raw = httpx.get(f"{url}/gradio_api/info").text
        compact = ApiSchema.from_info(httpx.get(f"{url}/gradio_api/info").json()).compact()
        from gradio_client import Client as GradioClient

        gc = GradioClient(url, verbose=False)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            view = gc.view_api(print_info=False, return_format="str") or ""
        gc.close()
    return {
        "raw_chars": len(raw),
        "compact_chars": len(compact),
        "view_api_chars": len(view),
        "compact_vs_raw": len(compact) / len(raw),
        "compact_vs_view_api": len(compact) / len(view),
        "compact": compact,
    }


if __name__ == "__main__":
    r = main()
    print(r["compact"])
    print(
        f"raw /info {r['raw_chars']} chars | view_api {r['view_api_chars']} | compact {r['compact_chars']} | "
        f"compact/raw {r['compact_vs_raw']:.3f} | compact/view_api {r['compact_vs_view_api']:.3f}"
    )
