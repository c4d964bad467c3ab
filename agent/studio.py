"""The studio (`spacechain ui`): a local Gradio page on the same core as `run` and `chat` — one Planner, its
toolset and Run folder — that shows the chain as it is made.

The page is a listener of the planner's events: the listener puts them on a queue, and a Gradio generator
turns the queue into page updates. Only outputs that changed are sent (gr.skip() for the rest): a
gr.Model3D given the same file again before its viewer has loaded can end up blank.

Everything a Space, the model or a manifest wrote is untrusted text: it is escaped into the page and
never rendered as Markdown or HTML. The HF token stays in the run's client; nothing on the page reads it."""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any, Callable

from .events import one_line
from .studio_session import Session, parse_sets, past_runs, text_inputs
from .studio_view import POOLS, View, calls_html, kind_of, overflow, steps_html

__all__ = ["build_app", "launch"]

_TICK_S = 0.2  # how often the page is refreshed while a turn runs


def _viewer(gr, kind: str):
    common = {"interactive": False, "show_label": False}
    if kind == "image":
        return gr.Image(type="filepath", height=320, **common)
    if kind == "audio":
        return gr.Audio(type="filepath", **common)
    if kind == "video":
        return gr.Video(**common)
    if kind == "model3d":
        return gr.Model3D(height=320, **common)
    return gr.File(**common)


# ---------------------------------------------------------------- the page

CSS = """
.sc-step summary { cursor: pointer; } .sc-step pre { max-height: 20em; overflow: auto; }
.sc-card:not(:has(.sc-chain b)) { display: none !important; }
.sc-calls { width: 100%; } .sc-error { color: #b91c1c; } .sc-empty { opacity: .6; }
"""


def _error_line(exc: BaseException) -> str:
    return "error: " + one_line(exc)


def build_app(session: Session):
    """The page. One Session per server: the studio is a local, one-person app."""
    import gradio as gr

    from spacechain.tools import SpacechainError

    from .replay import load_manifest

    out = session.out

    with gr.Blocks(title="spacechain studio") as demo:
        gr.Markdown("# spacechain studio")
        with gr.Row():
            with gr.Column(scale=3):
                goal = gr.Textbox(label="Goal", lines=2, elem_id="goal", placeholder="What you want, in plain English")
                files = gr.File(label="Your files", file_count="multiple", elem_id="files")
                with gr.Row():
                    run_btn = gr.Button("Run", variant="primary", elem_id="run")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                    new_btn = gr.Button("New session", elem_id="new-session")
                status = gr.Textbox(label="Status", interactive=False, elem_id="status")
            with gr.Column(scale=1):
                model_box = gr.Textbox(label="Model", value=session.llm.spec.label, elem_id="model")
                switch_btn = gr.Button("Switch model", elem_id="switch-model")
                quota = gr.Textbox(label="ZeroGPU quota", interactive=False, elem_id="quota", visible=False)
        answer = gr.Textbox(label="Answer", interactive=False, lines=2, elem_id="answer")
        with gr.Row():
            steps = gr.HTML(steps_html([]), elem_id="steps")
            calls = gr.HTML(calls_html({}), elem_id="calls")
        # One pool of cards per kind, each card one component for its whole life, mounted from the start: a
        # gr.Model3D is only ever given a new file, never cleared (cleared, then given a file, it stays blank
        # in Gradio 6.31), and a visible=False/"hidden" block still showed its children. A card without a
        # caption is hidden by CSS instead.
        gr.Markdown("## Outputs")
        slots: dict[str, list[tuple]] = {}
        for kind, n in POOLS.items():
            with gr.Row():
                for i in range(n):
                    with gr.Column(visible=True, elem_id=f"{kind}-{i}", elem_classes="sc-card", min_width=280) as card:
                        caption = gr.HTML(elem_classes="sc-chain")
                        slots.setdefault(kind, []).append((card, caption, _viewer(gr, kind)))
        more = gr.Textbox(label="More outputs", interactive=False, visible=False, elem_id="more")
        with gr.Accordion("Past runs", open=False, elem_id="past-runs"):
            with gr.Row():
                past = gr.Dropdown(choices=past_runs(out), label="Run folder", elem_id="past", scale=3)
                refresh_btn = gr.Button("Refresh", elem_id="refresh-runs", scale=1)
                open_btn = gr.Button("Open", elem_id="open-run", scale=1)
            sets = gr.Textbox(label="Text inputs (N.name=value, one a line)", lines=3, elem_id="sets")
            new_files = gr.File(
                label="New files (replace the run's own files, in order)", file_count="multiple", elem_id="replay-files"
            )
            replay_btn = gr.Button("Run again with new inputs", elem_id="replay")
        shown = gr.State({kind: [None] * n for kind, n in POOLS.items()})

        slot_parts = [part for kind in POOLS for slot in slots[kind] for part in slot]
        page = [status, answer, steps, calls, quota, more, past, run_btn, shown, *slot_parts]

        def render(view: View, shown_now: dict, last: dict, running: bool) -> list:
            """The page's values for `view`: gr.skip() wherever nothing changed."""
            extra = overflow(view.outputs)
            wanted: dict[Any, Any] = {
                status: view.status,
                answer: view.answer,
                steps: steps_html(view.steps),
                calls: calls_html(view.calls) + session.timeline(),
                quota: gr.update(value=session.quota(), visible=bool(session.quota())),
                more: gr.update(value="\n".join(extra), visible=bool(extra)),
                past: gr.update(choices=past_runs(out)),
                run_btn: gr.update(interactive=not running),
            }
            values = []
            for comp in page[:8]:
                new = wanted[comp]
                key = repr(new)
                values.append(gr.skip() if last.get(id(comp)) == key else new)
                last[id(comp)] = key
            shown_next = {kind: list(paths) for kind, paths in shown_now.items()}
            slot_values: list = []
            for kind in POOLS:
                items = [o for o in view.outputs if kind_of(o["path"]) == kind]
                for i in range(len(slots[kind])):
                    item = items[i] if i < len(items) else None
                    path = item["path"] if item else None
                    text = (  # no caption: the card is hidden by CSS
                        f"<b>{html.escape(view.name_of(path))}</b><br><small>{html.escape(item['chain'])}</small>"
                        if item and path
                        else ""
                    )
                    caption = gr.skip() if last.get((kind, i)) == text else text
                    last[(kind, i)] = text
                    if path == shown_now[kind][i]:
                        slot_values += [gr.skip(), caption, gr.skip()]  # a result's readable name, once written
                        continue
                    shown_next[kind][i] = path
                    slot_values += [gr.skip(), text, path if item else gr.skip()]
            return [*values, shown_next, *slot_values]

        def stream(view: View, shown_now: dict):
            last: dict = {}
            while True:
                alive = session.busy()
                errors = session.drain(view)
                if errors:
                    view.status = f"error: {errors[-1]}"
                result = render(view, shown_now, last, alive)
                shown_now = result[8]
                yield result
                if not alive:
                    # Gradio 6.31 sends a generator's last output again with its completion; a gr.Model3D given
                    # its file twice before its viewer code has loaded cancels that load and, the file being
                    # the same, never starts it again (blank, the file never requested). So the last output
                    # changes nothing: every file reached the page in an update of its own.
                    yield [gr.skip()] * len(page)
                    return
                threading.Event().wait(_TICK_S)

        def fail_only(message: str) -> list:
            return [message, *([gr.skip()] * (len(page) - 1))]

        def on_run(goal_text, given, shown_now):
            try:
                session.start_turn(goal_text, list(given or []))
            except (SpacechainError, OSError) as exc:
                yield fail_only(_error_line(exc))
                return
            yield from stream(session.view, shown_now)

        def on_stop():
            return "stopping…" if session.stop() else "nothing is running"

        def on_new(shown_now):
            try:
                session.new_session()
            except SpacechainError as exc:
                return fail_only(_error_line(exc))
            result = render(session.view, shown_now, {}, False)
            result[0] = "new session: the next goal starts a new conversation"
            return result

        def on_switch(name):
            try:
                label = session.switch_model(name)
            except SpacechainError as exc:
                return _error_line(exc), gr.skip()
            return f"model: {label}", label

        def run_dir_of(name) -> Path:
            if name not in past_runs(out):
                raise SpacechainError("Pick a run folder from the list (Refresh if it is new).")
            return out / name

        def on_open(name, shown_now):
            try:
                run_dir = run_dir_of(name)
                manifest = load_manifest(run_dir)
            except (SpacechainError, OSError) as exc:
                return [*fail_only(_error_line(exc)), gr.skip()]
            view = View.from_manifest(manifest, run_dir)
            return [*render(view, shown_now, {}, session.busy()), text_inputs(manifest)]

        def on_replay(name, sets_text, given, shown_now):
            try:
                view = session.start_replay(run_dir_of(name), parse_sets(sets_text), list(given or []))
            except (SpacechainError, OSError) as exc:
                yield fail_only(_error_line(exc))
                return
            yield from stream(view, shown_now)

        # The page's own events only: nothing here is an API for other programs.
        run_btn.click(on_run, [goal, files, shown], page, show_progress="hidden", api_visibility="private")
        goal.submit(on_run, [goal, files, shown], page, show_progress="hidden", api_visibility="private")
        stop_btn.click(on_stop, None, status, show_progress="hidden", api_visibility="private")
        new_btn.click(on_new, [shown], page, show_progress="hidden", api_visibility="private")
        switch_btn.click(on_switch, [model_box], [status, model_box], show_progress="hidden", api_visibility="private")
        refresh_btn.click(
            lambda: gr.update(choices=past_runs(out)), None, past, show_progress="hidden", api_visibility="private"
        )
        open_btn.click(on_open, [past, shown], [*page, sets], show_progress="hidden", api_visibility="private")
        replay_btn.click(
            on_replay, [past, sets, new_files, shown], page, show_progress="hidden", api_visibility="private"
        )
    return demo


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(session: Session, port: int = 0, browser: bool = True, announce: Callable[[str], None] = print) -> None:
    """Serve the page on 127.0.0.1 until Ctrl-C; the session's run is closed (manifest, gallery) after."""
    import signal

    def terminate(*_: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the server like Ctrl-C: the run is closed and its gallery written

    signal.signal(signal.SIGTERM, terminate)
    demo = build_app(session)
    port = port or free_port()
    demo.queue()
    try:
        demo.launch(
            server_name="127.0.0.1",
            server_port=port,
            inbrowser=False,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            share=False,
            allowed_paths=[str(session.out.resolve())],
            css=CSS,
            footer_links=[],
        )
        url = f"http://127.0.0.1:{port}"
        announce(url)
        if browser:
            import webbrowser

            webbrowser.open(url)
        while demo.is_running:
            threading.Event().wait(0.2)
    except KeyboardInterrupt:
        pass  # Ctrl-C (or SIGTERM) is how the studio ends
    finally:
        demo.close()
        session.close()
