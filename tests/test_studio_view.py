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
