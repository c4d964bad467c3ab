"""The `spacechain` command. Heavy modules are imported inside commands so `--help` stays instant."""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import typing
from typing import Any, Callable, Optional

import typer

from .start import PlanOptions

# Importing litellm otherwise fetches a cost map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

app = typer.Typer(
    help="Plan and run chains of Hugging Face Spaces from a goal in plain English.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def echo(text: Any = "", err: bool = False, nl: bool = True) -> None:
    """typer.echo for everything the CLI prints: Space, Hub and model text reach no terminal raw."""
    from spacechain.agent.display import clean

    typer.echo(clean(text), err=err, nl=nl)


def _seconds(value: float | None) -> float | None:
    # click's ranges let nan and inf through (no comparison with nan is true).
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"{value} is not a number of seconds; give a finite number such as 60.")
    return value


def _positive_seconds(value: float) -> float:
    if _seconds(value) == 0:
        raise typer.BadParameter("0 is not a timeout; give a number of seconds greater than 0.")
    return value


def _url(value: str | None, what: str) -> str | None:
    if value is None:
        return value
    from spacechain.tools import InvalidReference
    from spacechain.tools.refs import split_url

    try:
        split_url(value.strip(), what)
    except InvalidReference as exc:
        raise typer.BadParameter(str(exc)) from None
    return value.strip()


def _base_url(value: str | None) -> str | None:
    return _url(value, "--api-base URL")  # typer gives a callback of one parameter just the value


_MODEL_HELP = "LLM: org/model (HF Inference Providers), provider/model (litellm), or hf:org/model"
# Options shared by several commands (typer builds a parameter from each use).
FILES = typer.Option([], "--file", "-f", help="A local file the agent may use; repeatable")
MODEL = typer.Option(None, "--model", "-m", envvar="SPACECHAIN_MODEL", help=_MODEL_HELP)
API_BASE = typer.Option(None, "--api-base", callback=_base_url, help="Base URL of the LLM server")
API_KEY = typer.Option(None, "--api-key", help="API key for the LLM backend")
VIEWER = typer.Option(None, "--model-viewer", help="Local model-viewer.min.js for an offline gallery")
NO_CACHE = typer.Option(False, "--no-cache", help="Call Spaces even for calls made before")
WAKE = typer.Option(0.0, "--wake", min=0, callback=_seconds, help="Seconds to wait for a sleeping or starting Space")
MAX_STEPS = typer.Option(20, "--max-steps", min=1, help="Most agent steps per goal")
MAX_CALLS = typer.Option(None, "--max-space-calls", min=0, help="Stop the agent after this many Space calls")
PORT = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (default: any free)")
BROWSER = typer.Option(True, "--browser/--no-browser", help="Open the page in a browser")
# The planning options of run, chat and ui, in the order --help lists them.
_PLAN = (
    ("model", Optional[str], MODEL),
    ("api_base", Optional[str], API_BASE),
    ("api_key", Optional[str], API_KEY),
    ("max_steps", int, MAX_STEPS),
    ("max_space_calls", Optional[int], MAX_CALLS),
    ("no_cache", bool, NO_CACHE),
)


def plan_options(*, cache: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command's planning options, each defined once (the simonw/llm way of sharing options): the decorator
    puts --model, --api-base, --api-key, --max-steps, --max-space-calls and, with `cache`, --no-cache into the
    command's signature where its `opts` parameter is, and calls it with one PlanOptions (spacechain.agent.start).
    A command without --no-cache keeps no call cache."""
    shared = [(name, kind, option) for name, kind, option in _PLAN if cache or name != "no_cache"]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(command)
        params: list[inspect.Parameter] = []
        for name, param in inspect.signature(command).parameters.items():
            if name == "opts":
                kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
                params += [inspect.Parameter(n, kind, default=o, annotation=t) for n, t, o in shared]
            else:
                params.append(param.replace(annotation=hints.get(name, param.annotation)))

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            plan = {name: values.pop(name) for name, _, _ in shared}
            no_cache = plan.pop("no_cache", True)
            return command(opts=PlanOptions(**plan, cache=not no_cache), **values)

        # typer reads these (inspect.signature and typing.get_type_hints): the command's own parameters and
        # the shared ones, with real types (the command's module has string annotations).
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    echo(f"error: {' '.join(str(message).split())}", err=True)  # one line, whatever the message held
    return typer.Exit(code)


def _guard(fn):
    """Run a command body turning every expected failure into one line and a non-zero exit."""
    from spacechain.tools import SpacechainError

    try:
        return fn()
    except SpacechainError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # a path the user gave: missing folder, no permission, name too long
        where = f": {str(exc.filename)[:200]}" if exc.filename else ""
        raise fail(f"{exc.strerror or exc}{where}") from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def _emit_json(obj: Any) -> None:
    from spacechain.agent.display import json_safe
    from spacechain.agent.run import dumps  # strict JSON: NaN and infinities become null

    echo(json_safe(dumps(obj)))  # json_safe: C1 controls and bidi overrides as \u escapes; clean() keeps JSON as is


def main() -> None:
    try:  # typer vendors click since 0.25; older releases use click itself
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:
        from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment]

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError:
        code = 2  # typer has printed the help already
    except UsageError as exc:
        # One line instead of click's framed box: usage errors are bad input like any other.
        where = exc.ctx.command_path if exc.ctx else "spacechain"
        echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
        code = 2
    except (typer.Abort, KeyboardInterrupt):
        echo("error: interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()


def _cache(no_cache: bool):
    from spacechain.tools.cache import CallCache

    return None if no_cache else CallCache()


# The commands register themselves on `app` (imported last: they import the options above).
from . import cli_app, cli_mcp, cli_runs, cli_spaces, cli_ui  # noqa: E402,F401
