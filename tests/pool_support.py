"""Copies of popular Spaces on the Hub stand-in, as the real Hub has them: an origin that is paused, duplicates
(`cardData.duplicated_from`) on ZeroGPU, on paid hardware, paused, asleep under another name, one whose app
changed its signature, two whose ZeroGPU quota is spent; and two copies of a stateful 3D Space."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APPS = [
    "text2img@ann",
    "text2img@bob",
    "text2img_quota@zed",
    "text2img_quota@zoe",
    "text2img_v2",
    "img2_3d@tre",
    "img2_3d@tri",
]


def _space(id_: str, host: str | None, **kw: Any) -> dict[str, Any]:
    base = {
        "id": id_,
        "host": host,
        "sdk": "gradio",
        "stage": "RUNNING",
        "hardware": "zero-a10g",
        "likes": 1,
        "title": "FLUX.1 dev",
        "short_description": "Generate images from text with FLUX.1 dev",
        "agents_md": "v2",
        "sha": hashlib.sha1(id_.encode()).hexdigest(),
    }
    return {**base, **kw}


def family(urls: dict[str, str], quota: bool = True) -> list[dict[str, Any]]:
    """The flux-dev copies (with the two spent-quota ones unless `quota` is False) and the trellis pair."""
    origin = "bfl/flux-dev"
    flux = [
        _space(origin, urls["text2img@ann"], stage="PAUSED", likes=900),
        _space("ann/flux-dev", urls["text2img@ann"], likes=30, duplicated_from=origin),
        _space("bob/flux-dev", urls["text2img@bob"], hardware="a10g-small", likes=10, duplicated_from=origin),
        _space("cat/flux-dev", None, stage="PAUSED", likes=5, duplicated_from=origin),
        _space("dan/flux-dev", urls["text2img_v2"], hardware="cpu-upgrade", likes=50, duplicated_from=origin),
        _space("fay/picture-maker", None, stage="SLEEPING", likes=2, duplicated_from=origin),
    ]
    if quota:
        flux += [
            _space("zed/flux-dev", urls["text2img_quota@zed"], likes=40, duplicated_from=origin),
            _space("zoe/flux-dev", urls["text2img_quota@zoe"], likes=35, duplicated_from=origin),
        ]
    trellis = [
        _space("tre/trellis-3d", urls["img2_3d@tre"], title="TRELLIS 3D", likes=20, short_description="Image to 3D"),
        _space(
            "tri/trellis-3d",
            urls["img2_3d@tri"],
            title="TRELLIS 3D",
            hardware="a10g-small",
            likes=4,
            short_description="Image to 3D",
            duplicated_from="tre/trellis-3d",
        ),
    ]
    return flux + trellis


@dataclass
class PoolApps:
    urls: dict[str, str]
    call_log: Path

    def calls(self, name: str) -> list[dict]:
        """The calls the app copy `name` ran (from the apps' call log)."""
        host = self.urls[name].split("://", 1)[1]
        if not self.call_log.exists():
            return []
        lines = [json.loads(line) for line in self.call_log.read_text().splitlines() if line]
        return [c for c in lines if c["host"] == host]

    def clear(self) -> None:
        self.call_log.write_text("")


def with_family(hub, apps: PoolApps, quota: bool = True) -> None:
    cfg = copy.deepcopy(hub.default_config)
    cfg["spaces"] += family(apps.urls, quota)
    hub.set_config(cfg)
