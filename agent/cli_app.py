"""`spacechain app`: publish a recorded run as a Gradio Space (a folder, optionally pushed to the Hub)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .cli import _guard, app, echo

_EXAMPLE_HELP = "One more example, as name=value pairs separated by ';' (others keep the recorded values); repeatable"


def _example_rows(given: list[str]) -> list[dict[str, str]]:
    from spacechain.tools import InvalidInputs

    rows = []
    for text in given:
        row: dict[str, str] = {}
        for pair in text.split(";"):
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise InvalidInputs(f"--example expects name=value[;name=value...]; got {text!r}.")
            row[name.strip()] = value.strip()
        rows.append(row)
    return rows


@app.command("app")
def make_app(
    run_dir: Path = typer.Argument(..., help="A run folder made by `spacechain run`"),
    output: Path = typer.Option(..., "-o", "--output", help="Folder to write the app into"),
    title: Optional[str] = typer.Option(None, "--title", help="The app's title (default: the run's goal)"),
    examples: List[str] = typer.Option([], "--example", help=_EXAMPLE_HELP),
    push: Optional[str] = typer.Option(None, "--push", help="Create or update this Space (owner/name) on the Hub"),
    private: bool = typer.Option(False, "--private", help="With --push: make a new Space private"),
):
    """Make a run's chain a Gradio app: the visitor's own files and prompts, their own token and quota."""

    def body():
        from spacechain.agent.appgen import generate_app, push_app

        folder = generate_app(run_dir, output, title=title, examples=_example_rows(examples))
        echo(f"wrote {folder} (run it with: cd {folder} && pip install -r requirements.txt && python app.py)", err=True)
        if push:
            echo(push_app(folder, push, private=private))

    _guard(body)
