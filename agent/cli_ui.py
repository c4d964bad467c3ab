"""`spacechain ui`: the studio, a local web page where the chain is made before your eyes (agent/studio.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from .cli import BROWSER, PORT, _guard, app, echo, fail, plan_options
from .start import PlanOptions

INSTALL_HINT = 'the studio needs Gradio: pip install "spacechain[ui]"'


@app.command()
@plan_options(cache=False)  # the studio keeps no call cache
def ui(
    port: int = PORT,
    browser: bool = BROWSER,
    opts: PlanOptions = PlanOptions(),
    out: Path = typer.Option(Path("spacechain-runs"), "--out", help="Folder of run folders (one per session)"),
):
    """The studio: a local web page to run goals and watch each Space call and output as it comes."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise fail(INSTALL_HINT) from None

    def body():
        import os

        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
        from spacechain.agent.studio import launch
        from spacechain.agent.studio_session import Session
        from spacechain.tools import SpacechainError

        out.mkdir(parents=True, exist_ok=True)
        session = Session(out.resolve(), opts)
        try:
            launch(session, port, browser, announce=lambda url: echo(url))
        except OSError as exc:
            why = exc.strerror or "the port is taken"  # Gradio's own message names its env variables
            raise SpacechainError(f"cannot listen on 127.0.0.1:{port} ({why}); pick another --port.") from None

    _guard(body)
