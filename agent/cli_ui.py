"""`spacechain ui`: the studio, a local web page where the chain is made before your eyes (agent/studio.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli import API_BASE, API_KEY, MAX_CALLS, MODEL, _guard, app, echo, fail

INSTALL_HINT = 'the studio needs Gradio: pip install "spacechain[ui]"'


@app.command()
def ui(
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (default: any free)"),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the page in a browser"),
    model: Optional[str] = MODEL,
    api_base: Optional[str] = API_BASE,
    api_key: Optional[str] = API_KEY,
    out: Path = typer.Option(Path("spacechain-runs"), "--out", help="Folder of run folders (one per session)"),
    max_steps: int = typer.Option(20, "--max-steps", min=1, help="Most agent steps per goal"),
    max_space_calls: Optional[int] = MAX_CALLS,
):
    """The studio: a local web page to run goals and watch each Space call and output as it comes."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise fail(INSTALL_HINT) from None

    def body():
        import os

        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
        from spacechain.agent.studio import Session, StudioConfig, launch
        from spacechain.tools import SpacechainError

        out.mkdir(parents=True, exist_ok=True)
        session = Session(StudioConfig(out.resolve(), model, api_base, api_key, max_steps, max_space_calls))
        try:
            launch(session, port, browser, announce=lambda url: echo(url))
        except OSError as exc:
            why = exc.strerror or "the port is taken"  # Gradio's own message names its env variables
            raise SpacechainError(f"cannot listen on 127.0.0.1:{port} ({why}); pick another --port.") from None

    _guard(body)
