"""g. Goals: a dozen plain-English goals (bench/goals.yaml), each run by the agent and checked against
its outcomes. Reports per goal and model: success, steps, LLM tokens in/out, Space calls (failed ones
apart), ZeroGPU seconds spent (the quota's delta, when the token may read it) and wall time.

    python bench/goals.py --model Qwen/Qwen3-Coder-480B-A35B-Instruct [--model M2 ...] [--only ID ...]

It talks to the real Hub with your HF token. The tests run the same harness against the loopback Spaces
with a scripted model, so the harness itself is checked offline."""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
import sys
import time
import wave
from pathlib import Path
from typing import Any, Callable

import yaml

GOALS = Path(__file__).resolve().parent / "goals.yaml"


def load_goals(path: Path = GOALS, only: list[str] | None = None) -> list[dict]:
    goals = yaml.safe_load(path.read_text())["goals"]
    if only:
        unknown = set(only) - {g["id"] for g in goals}
        if unknown:
            raise SystemExit(f"error: no goal {', '.join(sorted(unknown))} in {path}")
        goals = [g for g in goals if g["id"] in only]
    return goals


def make_user_files(names: list[str], folder: Path) -> list[str]:
    """Sample inputs made here (nothing downloaded): a photo, a voice-like recording."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names:
        path = folder / name
        if name.endswith(".png"):
            from PIL import Image, ImageDraw

            img = Image.new("RGB", (256, 256), (235, 225, 210))
            draw = ImageDraw.Draw(img)
            draw.ellipse((78, 48, 178, 168), fill=(224, 180, 150))  # a face, more or less
            draw.rectangle((58, 168, 198, 256), fill=(40, 70, 140))
            img.save(path)
        elif name.endswith(".wav"):
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
                w.writeframes(
                    b"".join(
                        struct.pack("<h", int(8000 * math.sin(i / 16000 * 2 * math.pi * 220))) for i in range(16000 * 2)
                    )
                )
        else:
            raise SystemExit(f"error: the harness cannot make a sample {name!r}; use .png or .wav")
        made.append(str(path))
    return made


def _media_counts(files: list[str]) -> dict[str, int]:
    from spacechain.tools.kinds import media_of, sniff

    counts: dict[str, int] = {}
    for f in files:
        family = media_of(sniff(f)) if Path(f).is_file() else None
        if family:
            counts[family] = counts.get(family, 0) + 1
    return counts


def check(goal: dict, manifest: dict, answer: Any, titles: dict[str, str]) -> list[str]:
    """What the run missed of the goal's outcomes (empty when it met them all)."""
    expect, missed = goal.get("expect") or {}, []
    if manifest.get("status") != "success":
        missed.append(f"status {manifest.get('status')}")
    media = _media_counts(manifest.get("files") or [])
    for family, n in (expect.get("media") or {}).items():
        if media.get(family, 0) < n:
            missed.append(f"{media.get(family, 0)}/{n} {family} files")
    calls = manifest.get("calls") or []
    for pattern in expect.get("spaces") or []:
        if not any(
            re.search(pattern, f"{c.get('space')} {titles.get(c.get('space'), '')}", re.I)
            for c in calls
            if c.get("status") == "complete"
        ):
            missed.append(f"no working Space matching /{pattern}/")
    ok_calls = sum(1 for c in calls if c.get("status") == "complete")
    if ok_calls < expect.get("min_calls", 0):
        missed.append(f"{ok_calls}/{expect['min_calls']} successful calls")
    if expect.get("upload_refused") is False and any(
        (c.get("error") or {}).get("error") == "upload_refused" for c in calls
    ):
        missed.append("an upload was refused")
    if expect.get("answer") and not re.search(expect["answer"], str(answer or ""), re.I):
        missed.append("final answer does not match")
    return missed


def _quota(client) -> float | None:
    """Remaining ZeroGPU seconds, or None when the Hub or the token does not tell."""
    reader = getattr(client.hub, "zero_gpu_quota", None)
    if reader is None:
        return None
    try:
        return float(reader().remaining_s)
    except Exception:
        return None


def run_goal(
    goal: dict, model: Any, out_root: Path, *, label: str, max_steps: int = 20, listeners: list[Callable] | tuple = ()
) -> dict:
    """Run one goal with `model` (a smolagents Model) in a run folder under `out_root`; returns its row."""
    from spacechain.agent.run import Run
    from spacechain.agent.runner import Planner

    folder = out_root / f"{goal['id']}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}"
    files = make_user_files(goal.get("files") or [], folder / "user-files")
    run = Run(folder / "run", goal=goal["goal"], model=label, user_files=files)
    before = _quota(run.client)
    t0 = time.perf_counter()
    try:
        result = Planner(run, model, max_steps=max_steps, listeners=listeners).turn(goal["goal"])
        wall = time.perf_counter() - t0
        after = _quota(run.client)
        titles = {}
        for rec in run.client.records:
            try:
                titles[rec.space] = run.client.contract(rec.space).title or ""
            except Exception:
                titles[rec.space] = ""
    finally:
        run.close()
    manifest = json.loads((run.dir / "manifest.json").read_text())
    missed = check(goal, manifest, result.answer, titles)
    steps = [s for s in manifest.get("steps") or [] if s.get("turn") == 1]
    tokens = [s.get("tokens") or {} for s in steps]
    stats = manifest.get("stats", {}).get("total", {})
    return {
        "goal": goal["id"],
        "model": label,
        "success": not missed,
        "missed": missed,
        "steps": len(steps),
        "tokens_in": sum(t.get("input") or 0 for t in tokens),
        "tokens_out": sum(t.get("output") or 0 for t in tokens),
        "calls": stats.get("calls", 0),
        "failed_calls": stats.get("failures", 0),
        "zero_gpu_s": round(before - after, 1) if before is not None and after is not None else None,
        "wall_s": round(wall, 2),
        "run_dir": str(run.dir),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| goal | model | success | steps | tokens in/out | calls (failed) | ZeroGPU s | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = "yes" if r["success"] else "no: " + "; ".join(r["missed"])
        gpu = "?" if r["zero_gpu_s"] is None else f"{r['zero_gpu_s']:g}"
        lines.append(
            f"| {r['goal']} | {r['model']} | {ok} | {r['steps']} | {r['tokens_in']}/{r['tokens_out']} | "
            f"{r['calls']} ({r['failed_calls']}) | {gpu} | {r['wall_s']:.1f} |"
        )
    done = sum(r["success"] for r in rows)
    lines.append(f"\n{done} of {len(rows)} goals met.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="a --model value as `spacechain run` takes it (repeatable)")
    ap.add_argument("--api-base", help="an OpenAI-compatible server for every --model")
    ap.add_argument("--only", action="append", help="run only this goal id (repeatable)")
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("spacechain-runs/goals"))
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    from spacechain.agent import models

    goals = load_goals(only=args.only)
    rows = []
    for model_id in args.model or [None]:
        spec = models.resolve(model_id, args.api_base)
        models.check(spec)
        for goal in goals:
            rows.append(run_goal(goal, models.load(spec), args.out, label=spec.label, max_steps=args.max_steps))
            print(f"{goal['id']} ({spec.label}): {'met' if rows[-1]['success'] else 'missed'}", file=sys.stderr)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0 if all(r["success"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
