"""The calls as a timeline: an inline SVG with one lane per Space, each call's queue wait and run time,
cached and failed calls marked. Drawn by the gallery and the studio."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

__all__ = ["timeline_svg"]


# The chart's own look, inside the SVG: the gallery and the studio draw it alike (page colours when the page
# defines them).
STYLE = (
    ".timeline{font-size:11px;fill:var(--fg,#1d2127)} .timeline .grid{stroke:var(--line,#dfe3e8)}"
    " .timeline .tick{fill:var(--muted,#687080);text-anchor:middle} .timeline .queue{fill:#a5b4fc}"
    " .timeline .run{fill:#3b5bdb} .timeline .error .run{fill:#c92a2a} .timeline .cached rect{fill:#2b8a3e}"
    " .timeline .cached text{fill:#2b8a3e;font-style:italic}"
)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ts(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value > 0 else 0.0


def timeline_svg(calls: list[dict]) -> str:
    """An inline SVG of the calls: one lane per Space, each call's queue wait (light) and run (dark) from its
    submission; cached calls as a marked sliver. No script, every label escaped. Shared with the studio."""
    bars: list[tuple[str, float, float, float, dict]] = []  # space, start, queue, run, call
    clock = 0.0  # calls without a submission time follow the previous one
    first = min((t for c in calls if (t := _ts(c.get("submitted_at"))) is not None), default=None)
    for c in calls:
        t = _ts(c.get("submitted_at"))
        start = t - first if t is not None and first is not None else clock
        queue, run_s = _num(c.get("queue_s")), _num(c.get("run_s"))
        if not queue and not run_s:
            run_s = _num(c.get("total_s"))
        bars.append((str(c.get("space") or "?"), start, queue, run_s, c))
        clock = max(clock, start + queue + run_s)
    if not bars:
        return ""
    lanes = list(dict.fromkeys(b[0] for b in bars))
    span = max(max(b[1] + b[2] + b[3] for b in bars), 0.001)
    left, width, lane_h = 190, 700, 26
    scale = width / span
    height = 24 + lane_h * len(lanes)
    out = [
        f'<svg class="timeline" role="img" aria-label="timeline of {len(bars)} calls" viewBox="0 0 {left + width + 30}'
        f' {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<style>{STYLE}</style>",
    ]
    for n, lane in enumerate(lanes):
        y = n * lane_h
        out.append(f'<text class="lane" x="0" y="{y + 17}">{_esc(lane[:28])}</text>')
        out.append(f'<line x1="{left}" x2="{left + width}" y1="{y + lane_h}" y2="{y + lane_h}" class="grid"/>')
    for k in range(5):
        x = left + width * k / 4
        out.append(f'<text class="tick" x="{x:.1f}" y="{height - 6}">{span * k / 4:.1f} s</text>')
    for space, start, queue, run_s, c in bars:
        y = lanes.index(space) * lane_h + 5
        x = left + start * scale
        label = _esc(f"#{c.get('id', '')} {space} {c.get('endpoint', '')}: {c.get('status', '')}")
        if c.get("cached"):
            out.append(
                f'<g class="call cached"><title>{label} (cached)</title><rect x="{x:.1f}" y="{y}" width="4" '
                f'height="16"/><text x="{x + 6:.1f}" y="{y + 12}">cached</text></g>'
            )
            continue
        status = "error" if c.get("status") == "error" else "ok"
        out.append(
            f'<g class="call {status}"><title>{label}, queue {queue:.1f} s, run {run_s:.1f} s</title>'
            f'<rect class="queue" x="{x:.1f}" y="{y}" width="{max(queue * scale, 0):.1f}" height="16"/>'
            f'<rect class="run" x="{x + queue * scale:.1f}" y="{y}" width="{max(run_s * scale, 2):.1f}" '
            'height="16"/></g>'
        )
    out.append("</svg>")
    return "".join(out)
