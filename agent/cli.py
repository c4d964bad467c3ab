"""The `spacechain` command. Heavy modules are imported inside commands so `--help` stays instant."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

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


def _base_url(value: str | None) -> str | None:
    if value is None:
        return value
    from spacechain.tools import InvalidReference
    from spacechain.tools.refs import split_url

    try:
        split_url(value.strip(), "--api-base URL")
    except InvalidReference as exc:
        raise typer.BadParameter(str(exc)) from None
    return value.strip()


_MODEL_HELP = "LLM: org/model (HF Inference Providers), provider/model (litellm), or hf:org/model"
# Options shared by several commands (typer builds a parameter from each use).
FILES = typer.Option([], "--file", "-f", help="A local file the agent may use; repeatable")
MODEL = typer.Option(None, "--model", "-m", envvar="SPACECHAIN_MODEL", help=_MODEL_HELP)
API_BASE = typer.Option(None, "--api-base", callback=_base_url, help="Base URL of the LLM server")
API_KEY = typer.Option(None, "--api-key", help="API key for the LLM backend")
VIEWER = typer.Option(None, "--model-viewer", help="Local model-viewer.min.js for an offline gallery")
NO_CACHE = typer.Option(False, "--no-cache", help="Call Spaces even for calls made before")
WAKE = typer.Option(0.0, "--wake", min=0, callback=_seconds, help="Seconds to wait for a sleeping or starting Space")
MAX_CALLS = typer.Option(None, "--max-space-calls", min=0, help="Stop the agent after this many Space calls")


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


@app.command()
def inspect(
    space: str = typer.Argument(..., help="owner/name, a Space URL, or a Gradio app URL"),
    wake: float = WAKE,
    as_json: bool = typer.Option(False, "--json", help="Print contract and schema as JSON."),
):
    """Show a Space's contract and its API, one line per endpoint."""

    def body():
        from spacechain.tools import Client

        with Client(wake_timeout=wake) as client:
            sp = client.space(space)
            schema = client.schema(space)
            if as_json:
                contract = sp.contract.to_dict()
                contract.pop("text", None)
                status = vars(sp.status) if sp.status else None
                _emit_json({"space": sp.label, "contract": contract, "status": status, "endpoints": schema.to_dict()})
                return
            c = sp.contract
            echo(f"{sp.label}: {c.title}".rstrip(": "))
            echo(f"host: {c.host}  (from {c.source})")
            if sp.status:
                echo(f"stage: {sp.status.stage}  hardware: {sp.status.hardware}  likes: {sp.status.likes}")
            echo(schema.compact())

    _guard(body)


def _parse_inputs(client, space: str, endpoint: str, pairs: list[str]) -> dict:
    from spacechain.tools import InvalidInputs
    from spacechain.tools.schema import coerce_text

    ep = client.endpoint(space, endpoint)
    params = {p.name: p for p in ep.params}
    inputs: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInputs(f"-i expects name=value; got {pair!r}.")
        name = name.strip()
        if name not in params:
            valid = ", ".join(params) or "none"
            raise InvalidInputs(f"{ep.name} has no input named {name}; valid names: {valid}.")
        inputs[name] = coerce_text(params[name], value)
    return inputs


@app.command()
def call(
    space: str = typer.Argument(..., help="owner/name, a Space URL, or a Gradio app URL"),
    endpoint: str = typer.Argument(..., help="Endpoint name, with or without the leading slash"),
    inputs: List[str] = typer.Option([], "-i", "--input", help="name=value; repeat for each input"),
    out: Path = typer.Option(Path("spacechain-outputs"), "--out", help="Folder for output files"),
    timeout: float = typer.Option(
        600.0, "--timeout", callback=_positive_seconds, help="Seconds before the job is cancelled"
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Call the Space even if this call was made before"),
    wake: float = WAKE,
    as_json: bool = typer.Option(False, "--json", help="Print outputs and the call record as JSON."),
):
    """Call one endpoint and print its outputs (files are downloaded to --out)."""

    def body():
        from spacechain.agent.display import Board
        from spacechain.agent.events import CallSubmitted, CallWatch
        from spacechain.tools import Client, SpacechainError

        with Client(out_dir=out, cache=_cache(no_cache), wake_timeout=wake) as client:
            values = _parse_inputs(client, space, endpoint, inputs)
            board = Board()
            label = f"{client.space(space).label} /{endpoint.lstrip('/')}"
            watch = CallWatch(label, board)
            try:
                with board.live():
                    board(CallSubmitted(label, space, endpoint, None))
                    job = client.submit(space, endpoint, values, timeout=timeout, on_update=watch.update)
                    watch.attach(job)
                    try:
                        outputs = job.result()
                    except KeyboardInterrupt:
                        job.cancel()
                        raise
            except SpacechainError as exc:
                if as_json:  # the failed call's record (error kind, retry time…) for scripts
                    record = getattr(exc, "record", None)
                    _emit_json(
                        {"outputs": None, "record": record.to_dict() if record else None, "error": exc.to_dict()}
                    )
                raise
            if job.record.cached:
                echo("(from the call cache; --no-cache to call the Space again)", err=True)
            if as_json:
                _emit_json({"outputs": outputs, "record": job.record.to_dict()})
            else:
                for value in outputs:
                    echo(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    _guard(body)


@app.command()
def search(
    query: str = typer.Argument(..., help="What the Space should do, in plain words"),
    limit: int = typer.Option(8, "--limit", min=1, max=100, help="How many results"),
    all_stages: bool = typer.Option(False, "--all", help="Include Spaces that are not running"),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
):
    """Search Gradio Spaces on the Hub (running ones first)."""

    def body():
        from spacechain.tools import Client

        with Client() as client:
            hits = client.search(query, limit=limit, include_non_running=all_stages)
        if as_json:
            _emit_json([h.to_dict() for h in hits])
            return
        if not hits:
            echo("no Gradio Space found; try other words", err=True)
            return
        for h in hits:
            desc = f" — {h.description}" if h.description else ""
            echo(f"{h.id}  ♥{h.likes}  {h.stage or '?'}  {h.hardware or '?'}  {h.title}{desc}")

    _guard(body)


def _cache(no_cache: bool):
    from spacechain.tools.cache import CallCache

    return None if no_cache else CallCache()


def _viewer(model_viewer: Path | None) -> Path | None:
    from spacechain.tools import UploadRefused
    from spacechain.tools.files import is_local_file

    viewer = model_viewer or (
        Path(os.environ["SPACECHAIN_MODEL_VIEWER"]) if os.environ.get("SPACECHAIN_MODEL_VIEWER") else None
    )
    if viewer and not is_local_file(str(viewer)):
        raise UploadRefused(
            f"model-viewer copy {viewer} does not exist; point --model-viewer at "
            "model-viewer.min.js or unset SPACECHAIN_MODEL_VIEWER."
        )
    return viewer


def _finisher(run, viewer: Path | None):
    from spacechain.agent.display import print_quota, print_stats
    from spacechain.agent.gallery import write_gallery

    def finish() -> Path:
        print_stats(run.stats())
        run.save()
        print_quota(run.manifest.get("quota") or {})  # read "after" when the run was closed
        return write_gallery(run.dir, run.snapshot(), str(viewer) if viewer else None)

    return finish


def _prepare(
    goal: str,
    files: list[Path],
    model: str | None,
    api_base: str | None,
    api_key: str | None,
    out: Path | None,
    max_steps: int,
    model_viewer: Path | None,
    no_cache: bool = False,
    max_space_calls: int | None = None,
):
    """Validate every option before any Space or LLM is called; returns (run, planner, finish)."""
    from spacechain.agent import models
    from spacechain.agent.display import terminal_view
    from spacechain.agent.run import Run, default_run_dir
    from spacechain.agent.runner import Planner
    from spacechain.tools import UploadRefused
    from spacechain.tools.files import is_local_file

    for f in files:
        if not is_local_file(str(f)):
            raise UploadRefused(f"--file {f} does not exist; give the path of an existing file.")
    viewer = _viewer(model_viewer)
    spec = models.resolve(model, api_base, api_key)
    models.check(spec)
    run = Run(
        out or default_run_dir(goal),
        goal=goal,
        model=spec.label,
        user_files=[str(f) for f in files],
        cache=_cache(no_cache),
        max_space_calls=max_space_calls,
    )
    planner = Planner(run, models.load(spec), max_steps=max_steps, **terminal_view())
    run.record_quota("before")
    return run, planner, _finisher(run, viewer)


@app.command()
def run(
    goal: str = typer.Argument(..., help="What you want, in plain English"),
    files: List[Path] = FILES,
    model: Optional[str] = MODEL,
    api_base: Optional[str] = API_BASE,
    api_key: Optional[str] = API_KEY,
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default ./spacechain-runs/<time>-<slug>)"),
    max_steps: int = typer.Option(20, "--max-steps", min=1, help="Most agent steps before giving up"),
    model_viewer: Optional[Path] = VIEWER,
    no_cache: bool = NO_CACHE,
    max_space_calls: Optional[int] = MAX_CALLS,
    as_json: bool = typer.Option(False, "--json", help="Print the answer, run folder and files as JSON."),
):
    """Plan and run a chain of Spaces for GOAL; writes a run folder with manifest.json and gallery.html."""

    def body():
        from spacechain.agent.run import clean_text

        text = clean_text(goal)  # bytes that are not UTF-8 could reach neither the model nor the manifest
        run_, planner, finish = _prepare(
            text, files, model, api_base, api_key, out, max_steps, model_viewer, no_cache, max_space_calls
        )
        try:
            result = planner.turn(text)
        finally:
            run_.close()
            gallery = finish()
        if as_json:
            _emit_json(
                {
                    "success": result.success,
                    "status": result.status,
                    "final_answer": result.answer,
                    "run_dir": str(run_.dir),
                    "manifest": str(run_.dir / "manifest.json"),
                    "gallery": str(gallery),
                    "files": result.files,
                    "error": result.error,
                }
            )
        else:
            if result.answer is not None:
                echo(clean_text(str(result.answer)))
            echo(f"run folder: {run_.dir}", err=True)
            echo(f"gallery: {gallery}", err=True)
        if result.status == "interrupted":
            raise fail("interrupted; the run folder keeps what was done", 130)
        if not result.success:
            raise fail(result.error or result.status)

    _guard(body)


@app.command()
def chat(
    files: List[Path] = FILES,
    model: Optional[str] = MODEL,
    api_base: Optional[str] = API_BASE,
    api_key: Optional[str] = API_KEY,
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder shared by all turns"),
    max_steps: int = typer.Option(20, "--max-steps", min=1, help="Most agent steps per turn"),
    model_viewer: Optional[Path] = VIEWER,
    no_cache: bool = NO_CACHE,
    max_space_calls: Optional[int] = MAX_CALLS,
):
    """An interactive session: goals turn after turn, with memory, sharing one run folder."""

    def body():
        from spacechain.agent import models
        from spacechain.agent.repl import Repl

        run_, planner, finish = _prepare(
            "chat", files, model, api_base, api_key, out, max_steps, model_viewer, no_cache, max_space_calls
        )

        def load_model(name: str):
            spec = models.resolve(name, api_base, api_key)
            models.check(spec)
            return models.load(spec)

        history = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "spacechain" / "history"
        try:
            code = Repl(planner, load_model, finish, history=history).loop()
        finally:
            run_.close()
            finish()
        raise typer.Exit(code)

    _guard(body)


@app.command()
def show(
    run_dir: Path = typer.Argument(..., help="A run folder made by `spacechain run`"),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (default: any free)"),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the gallery in a browser"),
):
    """Serve a run's gallery on 127.0.0.1 (3D models do not load from file://) until Ctrl-C."""

    def body():
        from spacechain.agent.gallery import serve
        from spacechain.agent.replay import load_manifest
        from spacechain.tools import SpacechainError

        if not (run_dir / "gallery.html").is_file():
            raise SpacechainError(f"{run_dir} has no gallery.html; give a run folder made by `spacechain run`.")
        manifest = load_manifest(run_dir)  # it names the files the gallery may show
        try:
            server, url = serve(run_dir, port, manifest)
        except OSError as exc:
            raise SpacechainError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another --port.") from None
        echo(url)
        if browser:
            import webbrowser

            webbrowser.open(url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass  # Ctrl-C is how this command ends
        finally:
            server.server_close()

    _guard(body)


@app.command()
def quota(as_json: bool = typer.Option(False, "--json", help="Print the quota as JSON.")):
    """Your ZeroGPU quota on the Hub: GPU-seconds left of the day's total, and when it resets."""

    def body():
        from spacechain.tools import Client

        with Client() as client:
            q = client.hub.zero_gpu_quota()
        if as_json:
            _emit_json(q.to_dict())
        else:
            echo(q.describe())

    _guard(body)


cache_app = typer.Typer(help="The on-disk cache of completed Space calls.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("ls")
def cache_ls(as_json: bool = typer.Option(False, "--json", help="Print entries as JSON.")):
    """List cached calls."""

    def body():
        from datetime import datetime

        from spacechain.tools.cache import CallCache

        cache = CallCache()
        entries = cache.entries()
        if as_json:
            _emit_json({"dir": str(cache.root), "entries": [vars(e) for e in entries]})
            return
        for e in entries:
            try:
                when = datetime.fromtimestamp(e.created).strftime("%Y-%m-%d %H:%M")
            except (OverflowError, ValueError, OSError):  # a timestamp no clock has
                when = "????-??-?? ??:??"
            echo(f"{e.key[:12]}  {when}  {e.size:>9} B  {e.space}{e.endpoint}")
        echo(f"{len(entries)} cached call(s) in {cache.root}", err=True)

    _guard(body)


@cache_app.command("clear")
def cache_clear():
    """Delete every cached call."""

    def body():
        from spacechain.tools.cache import CallCache

        cache = CallCache()
        echo(f"removed {cache.clear()} cached call(s) from {cache.root}")

    _guard(body)


def _overrides(pairs: list[str]) -> dict[str, str]:
    from spacechain.tools import InvalidInputs

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputs(f"--set expects name=value (or N.name=value for call N); got {pair!r}.")
        out[name.strip()] = value
    return out


def _check_replay(manifest: dict, chain, overridden: set[str], files: list[Path], as_json: bool) -> None:
    """`replay --dry-run`: the same checks as a replay, in a scratch run folder that is removed after."""
    import shutil
    import tempfile

    from spacechain.agent.replay import check_chain
    from spacechain.agent.run import Run
    from spacechain.tools import SpacechainError

    scratch = Path(tempfile.mkdtemp(prefix="spacechain-check-"))
    try:
        run_ = Run(scratch / "run", goal="replay check", model="none", user_files=[str(f) for f in files])
        try:
            problems = check_chain(run_, chain, overridden, manifest.get("user_files"))
        finally:
            run_.client.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if as_json:
        _emit_json({"ok": not problems, "problems": problems, "calls": len(chain.calls)})
    if problems:
        raise SpacechainError(
            f"The replay would not run ({len(problems)} problem{'s' * (len(problems) != 1)}): "
            + "; ".join(problems[:12])
            + "."
        )
    if not as_json:
        echo(f"ok: all {len(chain.calls)} call(s) would run")


@app.command()
def replay(
    run_dir: Path = typer.Argument(..., help="A run folder made by `spacechain run`"),
    sets: List[str] = typer.Option([], "--set", help="name=value (or N.name=value) to change an input"),
    files: List[Path] = typer.Option([], "--file", "-f", help="A local file the replay may upload"),
    out: Optional[Path] = typer.Option(None, "--out", help="New run folder"),
    no_cache: bool = NO_CACHE,
    model_viewer: Optional[Path] = VIEWER,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only check the chain (Spaces, endpoints, inputs, files); call no Space."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the new run folder and files as JSON."),
):
    """Re-run a recorded chain of Space calls without any LLM."""

    def body():
        from spacechain.agent.display import Board
        from spacechain.agent.replay import apply_overrides, build_chain, load_manifest, replay_chain
        from spacechain.agent.run import Run, default_run_dir

        manifest = load_manifest(run_dir)
        chain = build_chain(manifest)
        apply_overrides(chain, _overrides(sets))
        goal = f"{manifest.get('goal', '')} (replay)"
        if dry_run:
            return _check_replay(manifest, chain, set(_overrides(sets)), files, as_json)
        viewer = _viewer(model_viewer)
        run_ = Run(
            out or default_run_dir(goal),
            goal=goal,
            model="replay (no LLM)",
            cache=_cache(no_cache),
            user_files=[str(f) for f in files],
        )
        finish = _finisher(run_, viewer)
        run_.record_quota("before")
        board = Board()
        try:
            run_.begin_turn(goal)
            with board.live():
                replay_chain(run_, chain, set(_overrides(sets)), emit=board, user_files=manifest.get("user_files"))
            run_.end_turn("success", f"replayed {len(chain.calls)} call(s)")
        except BaseException as exc:
            run_.end_turn("failed", str(exc))
            raise
        finally:
            run_.close()
            gallery = finish()
        if as_json:
            _emit_json(
                {
                    "run_dir": str(run_.dir),
                    "gallery": str(gallery),
                    "files": run_.produced_files(),
                    "stats": run_.stats(),
                }
            )
        else:
            for f in run_.produced_files():
                echo(f)
            echo(f"run folder: {run_.dir}", err=True)

    _guard(body)


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="A run folder made by `spacechain run`"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Script path (default: stdout)"),
):
    """Write a standalone Python script that reproduces a run's chain with spacechain.tools."""

    def body():
        from spacechain.agent.replay import build_chain, export_script, load_manifest

        script = export_script(build_chain(load_manifest(run_dir)), str(run_dir))
        if output:
            output.write_text(script, encoding="utf-8")
            echo(f"wrote {output}", err=True)
        else:
            echo(script, nl=False)

    _guard(body)


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
