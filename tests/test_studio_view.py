"""What the studio shows of a run (agent/studio_view.py), built from events, without a browser."""

from __future__ import annotations


def test_view_rows_kinds_and_escaping():
    from spacechain.agent.events import CallFinished, CallSubmitted, StepFinished
    from spacechain.agent.studio_view import View, calls_html, key_inputs, kind_of, steps_html

    view = View()
    for n in (1, 2):
        view.apply(CallSubmitted("acme/flux-lite /generate", "acme/flux-lite", "/generate", None), lambda f: "")
        view.apply(CallFinished("acme/flux-lite /generate", "complete", 0.5, files=[f"/r/out{n}.png"]), lambda f: "")
    assert list(view.calls) == ["acme/flux-lite /generate", "acme/flux-lite /generate #2"]
    assert [o["path"] for o in view.outputs] == ["/r/out1.png", "/r/out2.png"]
    assert [kind_of(p) for p in ("a.PLY", "b.splat", "c.glb", "d.obj", "e.wav", "f.mp4", "g.svg", "h.jpg")] == [
        "model3d", "model3d", "model3d", "model3d", "audio", "video", "file", "image"
    ]  # fmt: skip
    assert key_inputs({"image": "/home/me/cat.png", "prompt": "x" * 100}) == f"image=cat.png, prompt={'x' * 59}…"
    view.apply(StepFinished(1, 1, "<img src=x onerror=alert(1)>", "print('<b>')", None, "</pre>boom", False,
                            None, None, None), lambda f: "")  # fmt: skip
    html_text = steps_html(view.steps) + calls_html({"<script>": {"state": "<i>", "elapsed": 1}})
    assert "<img" not in html_text and "<script>" not in html_text and "&lt;img src=x" in html_text
    assert "</pre>boom" not in html_text and "&lt;/pre&gt;boom" in html_text


def test_a_generating_call_shows_its_latest_output_live():
    from spacechain.agent.events import CallFinished, CallSubmitted, CallUpdated
    from spacechain.agent.studio_view import View, calls_html

    view, label = View(), "acme/toolbox /stream"
    view.apply(CallSubmitted(label, "acme/toolbox", "/stream", None), lambda f: "")
    view.apply(CallUpdated(label, "generating", 0.4, generated=2, partial=["step 1 <b>"]), lambda f: "")
    view.apply(CallUpdated(label, "generating", 0.9, generated=2), lambda f: "")  # a heartbeat keeps it
    page = calls_html(view.calls)
    assert "#2: step 1 &lt;b&gt;" in page and "<b>" not in page
    view.apply(CallUpdated(label, "generating", 1.2, generated=3, partial=[{"path": "/tmp/g/x.png"}]), lambda f: "")
    assert "#3: file x.png" in calls_html(view.calls)
    view.apply(CallFinished(label, "complete", 1.5, outputs=["step 4"]), lambda f: "")
    assert "sc-partial" not in calls_html(view.calls)  # done: the row shows the outcome, not a stale partial


def test_parallel_calls_of_one_endpoint_keep_their_own_rows():
    """A batch runs several calls of one endpoint at once: each event finds its own call's row, in the
    studio and on the terminal board."""
    from io import StringIO

    from rich.console import Console

    from spacechain.agent.display import Board
    from spacechain.agent.events import CallFinished, CallSubmitted, CallUpdated
    from spacechain.agent.studio_view import View

    label, view = "acme/flux-lite /generate", View()
    board = Board(Console(file=StringIO(), width=120))
    events = [
        CallSubmitted(label, "acme/flux-lite", "/generate", "item-0", n=7),
        CallSubmitted(label, "acme/flux-lite", "/generate", "item-1", n=8),
        CallFinished(label, "complete", 1.0, n=7),  # the first one ends first
        CallUpdated(label, "running", 1.5, n=8),
    ]
    for e in events:
        view.apply(e, lambda f: "")
        board(e)
    assert {row: c["state"] for row, c in view.calls.items()} == {label: "complete", f"{label} #2": "running"}
    text = StringIO()
    Console(file=text, width=120).print(board.render())
    assert [line.split()[2] for line in text.getvalue().splitlines()] == ["complete", "running"]
