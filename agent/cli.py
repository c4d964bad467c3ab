"""The `spacechain` command. Heavy modules are imported inside commands so `--help` stays instant."""

from __future__ import annotations

import json
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


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print one line on stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _guard(fn):
    """Run a command body turning every expected failure into one line and a non-zero exit."""
    from spacechain.tools import SpacechainError

    try:
        return fn()
    except SpacechainError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def _emit_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


@app.command()
def inspect(space: str = typer.Argument(..., help="owner/name, a Space URL, or a Gradio app URL"),
            as_json: bool = typer.Option(False, "--json", help="Print contract and schema as JSON.")):
    """Show a Space's contract and its API, one line per endpoint."""

    def body():
        from spacechain.tools import Client

        with Client() as client:
            sp = client.space(space)
            schema = client.schema(space)
            if as_json:
                contract = sp.contract.to_dict()
                contract.pop("text", None)
                status = vars(sp.status) if sp.status else None
                _emit_json({"space": sp.label, "contract": contract, "status": status,
                            "endpoints": schema.to_dict()})
                return
            c = sp.contract
            typer.echo(f"{sp.label}: {c.title}".rstrip(": "))
            typer.echo(f"host: {c.host}  (from {c.source})")
            if sp.status:
                typer.echo(f"stage: {sp.status.stage}  hardware: {sp.status.hardware}  likes: {sp.status.likes}")
            typer.echo(schema.compact())

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
def call(space: str = typer.Argument(..., help="owner/name, a Space URL, or a Gradio app URL"),
         endpoint: str = typer.Argument(..., help="Endpoint name, with or without the leading slash"),
         inputs: List[str] = typer.Option([], "-i", "--input", help="name=value; repeat for each input"),
         out: Path = typer.Option(Path("spacechain-outputs"), "--out", help="Folder for output files"),
         timeout: float = typer.Option(600.0, "--timeout", help="Seconds before the job is cancelled"),
         as_json: bool = typer.Option(False, "--json", help="Print outputs and the call record as JSON.")):
    """Call one endpoint and print its outputs (files are downloaded to --out)."""

    def body():
        from spacechain.agent.display import Board
        from spacechain.tools import Client

        with Client(out_dir=out) as client:
            values = _parse_inputs(client, space, endpoint, inputs)
            board = Board()
            label = f"{client.space(space).label} /{endpoint.lstrip('/')}"
            with board.live():
                job = client.submit(space, endpoint, values, timeout=timeout, on_update=board.callback(label))
                try:
                    outputs = job.result()
                except KeyboardInterrupt:
                    job.cancel()
                    raise
            if as_json:
                _emit_json({"outputs": outputs, "record": job.record.to_dict()})
            else:
                for value in outputs:
                    typer.echo(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    _guard(body)


@app.command()
def search(query: str = typer.Argument(..., help="What the Space should do, in plain words"),
           limit: int = typer.Option(8, "--limit", min=1, max=100, help="How many results"),
           all_stages: bool = typer.Option(False, "--all", help="Include Spaces that are not running"),
           as_json: bool = typer.Option(False, "--json", help="Print results as JSON.")):
    """Search Gradio Spaces on the Hub (running ones first)."""

    def body():
        from spacechain.tools import Client

        with Client() as client:
            hits = client.search(query, limit=limit, include_non_running=all_stages)
        if as_json:
            _emit_json([h.to_dict() for h in hits])
            return
        if not hits:
            typer.echo("no Gradio Space found; try other words", err=True)
            return
        for h in hits:
            desc = f" — {h.description}" if h.description else ""
            typer.echo(f"{h.id}  ♥{h.likes}  {h.stage or '?'}  {h.hardware or '?'}  {h.title}{desc}")

    _guard(body)


_MODEL_HELP = "LLM: org/model (HF Inference Providers), provider/model (litellm), or hf:org/model"


def _prepare(goal: str, files: list[Path], model: str | None, api_base: str | None, api_key: str | None,
             out: Path | None, max_steps: int, model_viewer: Path | None):
    """Validate every option before any Space or LLM is called; returns (run, planner, finish)."""
    from spacechain.agent import models
    from spacechain.agent.gallery import write_gallery
    from spacechain.agent.run import Run, default_run_dir
    from spacechain.agent.runner import Planner
    from spacechain.tools import UploadRefused

    for f in files:
        if not Path(f).expanduser().is_file():
            raise UploadRefused(f"--file {f} does not exist; give the path of an existing file.")
    viewer = model_viewer or (Path(os.environ["SPACECHAIN_MODEL_VIEWER"])
                              if os.environ.get("SPACECHAIN_MODEL_VIEWER") else None)
    if viewer and not viewer.is_file():
        raise UploadRefused(f"model-viewer copy {viewer} does not exist; point --model-viewer at "
                            "model-viewer.min.js or unset SPACECHAIN_MODEL_VIEWER.")
    spec = models.resolve(model, api_base, api_key)
    models.check(spec)
    run = Run(out or default_run_dir(goal), goal=goal, model=spec.label, user_files=[str(f) for f in files])
    planner = Planner(run, models.load(spec), max_steps=max_steps)

    def finish() -> Path:
        run.save()
        return write_gallery(run.dir, run.snapshot(), str(viewer) if viewer else None)

    return run, planner, finish


@app.command()
def run(goal: str = typer.Argument(..., help="What you want, in plain English"),
        files: List[Path] = typer.Option([], "--file", "-f", help="A local file the agent may use; repeatable"),
        model: Optional[str] = typer.Option(None, "--model", "-m", envvar="SPACECHAIN_MODEL", help=_MODEL_HELP),
        api_base: Optional[str] = typer.Option(None, "--api-base", help="Base URL of the LLM server"),
        api_key: Optional[str] = typer.Option(None, "--api-key", help="API key for the LLM backend"),
        out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default ./spacechain-runs/<time>-<slug>)"),
        max_steps: int = typer.Option(20, "--max-steps", min=1, help="Most agent steps before giving up"),
        model_viewer: Optional[Path] = typer.Option(None, "--model-viewer",
                                                    help="Local model-viewer.min.js for an offline gallery"),
        as_json: bool = typer.Option(False, "--json", help="Print the answer, run folder and files as JSON.")):
    """Plan and run a chain of Spaces for GOAL; writes a run folder with manifest.json and gallery.html."""

    def body():
        run_, planner, finish = _prepare(goal, files, model, api_base, api_key, out, max_steps, model_viewer)
        try:
            result = planner.turn(goal)
        finally:
            run_.close()
            gallery = finish()
        if as_json:
            _emit_json({"success": result.success, "status": result.status, "final_answer": result.answer,
                        "run_dir": str(run_.dir), "manifest": str(run_.dir / "manifest.json"),
                        "gallery": str(gallery), "files": result.files, "error": result.error})
        else:
            if result.answer is not None:
                typer.echo(str(result.answer))
            typer.echo(f"run folder: {run_.dir}", err=True)
            typer.echo(f"gallery: {gallery}", err=True)
        if result.status == "interrupted":
            raise fail("interrupted; the run folder keeps what was done", 130)
        if not result.success:
            raise fail(result.error or result.status)

    _guard(body)


@app.command()
def chat(files: List[Path] = typer.Option([], "--file", "-f", help="A local file the agent may use; repeatable"),
         model: Optional[str] = typer.Option(None, "--model", "-m", envvar="SPACECHAIN_MODEL", help=_MODEL_HELP),
         api_base: Optional[str] = typer.Option(None, "--api-base", help="Base URL of the LLM server"),
         api_key: Optional[str] = typer.Option(None, "--api-key", help="API key for the LLM backend"),
         out: Optional[Path] = typer.Option(None, "--out", help="Run folder shared by all turns"),
         max_steps: int = typer.Option(20, "--max-steps", min=1, help="Most agent steps per turn"),
         model_viewer: Optional[Path] = typer.Option(None, "--model-viewer",
                                                     help="Local model-viewer.min.js for an offline gallery")):
    """An interactive session: goals turn after turn, with memory, sharing one run folder."""

    def body():
        from spacechain.agent import models
        from spacechain.agent.repl import Repl

        run_, planner, finish = _prepare("chat", files, model, api_base, api_key, out, max_steps, model_viewer)

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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
