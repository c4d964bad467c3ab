"""g. Start-up of `spacechain run` with a one-step model: time from the command to its first LLM request,
with the default backend (HF Inference Providers: the request is caught by a loopback HTTPS proxy that
refuses it) and with an OpenAI-compatible --api-base server (the LLM stand-in), and the whole one-step run."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _servers import TESTS, loopback

sys.path.insert(0, str(TESTS))
from llm_stub import LLMStub

REPLY = "<code>\nfinal_answer('done')\n</code>"


class _Stamped(LLMStub):
    first: float | None = None

    def next_reply(self, body: dict) -> str:
        self.first = self.first or time.perf_counter()
        return super().next_reply(body)


def _proxy() -> tuple[ThreadingHTTPServer, list[float]]:
    """An HTTPS proxy on 127.0.0.1 that notes when the first CONNECT (the LLM request) arrives and refuses it."""
    seen: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_CONNECT(self) -> None:
            seen.append(time.perf_counter())
            self.send_error(502)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _run(args: list[str], env: dict) -> tuple[float, float]:
    exe = shutil.which("spacechain") or os.path.join(os.path.dirname(sys.executable), "spacechain")
    out = tempfile.mkdtemp(prefix="spacechain-startup-")
    t0 = time.perf_counter()
    subprocess.run([exe, "run", "say done", "--out", f"{out}/run", *args], env=env, capture_output=True, timeout=120)
    return t0, time.perf_counter() - t0


def main(n: int = 5) -> dict:
    default, api_base, whole = [], [], []
    with loopback([]):
        env = {**os.environ, "NO_COLOR": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        proxy, seen = _proxy()
        proxied = {
            **env,
            "HTTPS_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        for _ in range(n):
            seen.clear()
            t0, _ = _run([], proxied)
            if seen:
                default.append(seen[0] - t0)
            stub = _Stamped([REPLY]).start()
            try:
                t0, total = _run(["--model", "openai/scripted", "--api-base", stub.url], env)
                if stub.first:
                    api_base.append(stub.first - t0)
                    whole.append(total)
            finally:
                stub.stop()
        proxy.shutdown()
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    return {"default_first_s": med(default), "api_base_first_s": med(api_base), "one_step_run_s": med(whole), "n": n}


if __name__ == "__main__":
    r = main()
    print(
        f"first LLM request: default backend {r['default_first_s']:.2f} s, --api-base {r['api_base_first_s']:.2f} s; "
        f"whole one-step run (--api-base) {r['one_step_run_s']:.2f} s (median of {r['n']})"
    )
