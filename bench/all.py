"""Run every benchmark once and print the README's results table (markdown)."""

from __future__ import annotations

import os
import platform

import cache
import cancel
import cold_start
import interrupt
import latency
import pipeline
import pool
import prompt
import schema
import startup


def main() -> None:
    p = pipeline.main(0.5)
    lat = latency.main(60)
    sch = schema.main()
    cold = cold_start.main()
    c = cache.main(0.5)
    pr = prompt.main()
    st = startup.main()
    po = pool.main(0.5)
    cn = cancel.main(10.0)
    ci = interrupt.main()
    cpu = (
        next(
            (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
            platform.processor(),
        )
        if os.path.exists("/proc/cpuinfo")
        else platform.processor()
    )
    print(f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}\n")
    print("| benchmark | result | goal |\n|---|---|---|")
    print(
        f"| a. 6 items text→image→3D | sequential {p['sequential_s']:.2f} s, pipelined {p['pipelined_s']:.2f} s "
        f"({p['speedup']:.2f}× faster); pipelined / bound ({p['bound_s']:.2f} s) = {p['ratio_to_bound']:.3f} "
        "| ≤ 1.15 × bound |"
    )
    print(
        f"| b. no-op call latency (median of 60) | spacechain {lat['spacechain_ms']:.1f} ms, gradio_client "
        f"{lat['gradio_client_ms']:.1f} ms, bare httpx {lat['floor_ms']:.1f} ms; ratio to gradio_client "
        f"{lat['vs_gradio_client']:.3f}, to the floor {lat['vs_floor']:.2f} | ≤ 0.15 × gradio_client, ≤ 1.5 × floor |"
    )
    print(
        f"| c. schema compaction (large app) | raw {sch['raw_chars']} chars, view_api {sch['view_api_chars']}, "
        f"compact {sch['compact_chars']} = {100 * sch['compact_vs_raw']:.1f} % of raw | ≤ 8 % of raw |"
    )
    print(
        f"| d. `spacechain --help` cold start | {cold['median_s']:.3f} s (heavy imports: "
        f"{cold['heavy_imports'] or 'none'}) | ≤ 0.3 s |"
    )
    print(
        f"| e. repeated run with the cache | first {c['first_s']:.2f} s / {c['first_space_calls']} Space calls; "
        f"repeat {c['repeat_s']:.3f} s / {c['repeat_space_calls']} Space calls | 0 Space calls |"
    )
    print(
        f"| f. first request's system message | {pr['spacechain_chars']} chars (smolagents' generic prompt with "
        f"the same tools: {pr['smolagents_chars']}) | ≤ 8000 chars |"
    )
    print(
        f"| g. `spacechain run` start-up, one-step model (median of {st['n']}) | first LLM request: default backend "
        f"{st['default_first_s']:.2f} s, `--api-base` server {st['api_base_first_s']:.2f} s; whole run "
        f"{st['one_step_run_s']:.2f} s | ≤ 1.0 s, ≤ 1.5 s |"
    )
    print(
        f"| h. Space pools (`bench/pool.py`) | 12 items text→image→3D: one Space per stage {po['one_space_s']:.2f} s, "
        f"`spread=True` over two equivalents per stage {po['spread_s']:.2f} s = {po['ratio']:.3f}×; a run whose "
        f"first-choice Space is paused: {po['paused_steps']} LLM steps, {po['paused_s']:.2f} s (running: "
        f"{po['running_steps']} steps, {po['running_s']:.2f} s) | ≤ 0.7×; no extra LLM step |"
    )
    print(
        f"| i. next call after a cancelled {cn['job_s']:g} s job | waits {cn['spacechain_s']:.2f} s (gradio_client "
        f"{cn['gradio_client_s']:.2f} s; closing the stream only {cn['close_only_s']:.2f} s) "
        "| ≤ gradio_client + 0.5 s |"
    )
    q, lo = ci["quiet"], ci["loaded"]
    print(
        f"| j. Ctrl-C to exit (median of {ci['n']}) | `show` {q['show_s']:.2f} s, a `run` waiting on a 30-s call "
        f"{q['run_s']:.2f} s; with {ci['busy']} busy processes {lo['show_s']:.2f} s and {lo['run_s']:.2f} s | "
        "≤ 1 s on a quiet machine |"
    )


if __name__ == "__main__":
    main()
