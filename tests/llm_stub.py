"""A scripted OpenAI-compatible chat server on 127.0.0.1 for driving the real litellm path.

Each POST /v1/chat/completions takes the next scripted reply (the last one repeats) and records the
request, so tests can check what the agent sent (e.g. that turn 2 still sees turn 1). Streaming
(`"stream": true`) is answered with SSE chunks like OpenAI's. Run it as a script to use it from a
subprocess: `python tests/llm_stub.py replies.json` prints {"url": ...} and serves until killed."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LLMStub:
    def __init__(self, replies: list[str], delay_s: float = 0.0):
        self.replies = list(replies)
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # every POST's headers (lower-case names), any path
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def next_reply(self, body: dict) -> str:
        with self._lock:
            self.requests.append(body)
            if len(self.replies) > 1:
                return self.replies.pop(0)
            return self.replies[0] if self.replies else "<code>\nfinal_answer('no script')\n</code>"

    def start(self) -> LLMStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                reply = stub.next_reply(body)
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                model = body.get("model", "scripted")
                usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    pieces = [reply[i : i + 40] for i in range(0, len(reply), 40)] or [""]
                    for i, piece in enumerate(pieces):
                        chunk = {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "created": int(time.time()),
                            "model": model,
                            "choices": [
                                {
                                    "index": 0,
                                    "delta": (
                                        {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                                    ),
                                    "finish_reason": None,
                                }
                            ],
                        }
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    last = {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        "usage": usage,
                    }
                    self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
                    return
                self._json(
                    200,
                    {
                        "id": "c1",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "usage": usage,
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}
                        ],
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> LLMStub:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


if __name__ == "__main__":
    stub = LLMStub(json.load(open(sys.argv[1]))).start()
    print(json.dumps({"url": stub.url}), flush=True)
    threading.Event().wait()
