"""gradio's own gr.Workflow serving a graph, for tests: `python tests/workflow_app.py GRAPH.json` prints
{"url": "http://127.0.0.1:PORT"} once the canvas answers, then serves until killed."""

from __future__ import annotations

import json
import socket
import sys
import time

import gradio as gr


def main(graph: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wf = gr.Workflow(graph=graph)
    wf.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, inbrowser=False)
    print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
    while True:  # the server runs in daemon threads; the test stops this process by PID
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1])
