"""Commands on agent runs: run, chat, show, replay, export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from .cli import (
    BROWSER,
    FILES,
    NO_CACHE,
    PORT,
    VIEWER,
    _emit_json,
    _guard,
    app,
    echo,
    fail,
    plan_options,
)
from .start import PlanOptions

OFFLINE = typer.Option(
    False, "--offline-viewers", help="Copy the 3D viewer into the run folder (from npm) so the gallery needs no network"
)


def _viewer(model_viewer: Path | None, offline: bool = False) -> Path | None:
    from spacechain.tools import UploadRefused
    from spacechain.tools.files import is_local_file

    if offline and not model_viewer:
        from spacechain.agent.gallery import offline_model_viewer
        from spacechain.agent.viewers import offline_viewers

        offline_viewers()  # the splat and mesh viewers too, into the same cache (copied at finish)
        return offline_model_viewer()
    viewer = model_viewer or (
        Path(os.environ["SPACECHAIN_MODEL_VIEWER"]) if os.environ.get("SPACECHAIN_MODEL_VIEWER") else None
    )
    if viewer and not is_local_file(str(viewer)):
        raise UploadRefused(
            f"model-viewer copy {viewer} does not exist; point --model-viewer at "
            "model-viewer.min.js or unset SPACECHAIN_MODEL_VIEWER."
        )
    return viewer


def _finisher(run, viewer: Path | None, offline: bool = False):
    from spacechain.agent.display import print_quota, print_stats
    from spacechain.agent.start import finish_run

    def finish() -> Path:
        print_stats(run.stats())
        gallery = finish_run(run, str(viewer) if viewer else None, offline)
        print_quota(run.manifest.get("quota") or {})  # read "after" when the run was closed
        return gallery

    return finish


def _prepare(
    opts: PlanOptions,
    goal: str,
    files: list[Path],
    out: Path | None,
    model_viewer: Path | None,
    offline: bool = False,
    listeners: tuple = (),
):
    """The terminal's run: the core's run and planner (every option checked before any Space or LLM is
    called) with the call board as a listener; returns (run, planner, finish)."""
    from spacechain.agent.display import terminal_view
    from spacechain.agent.run import default_run_dir
    from spacechain.agent.start import check_files, open_planner

    check_files(files)  # the user's files first, before the viewers may be fetched
    viewer = _viewer(model_viewer, offline)
    view = terminal_view()
    view["listeners"] += list(listeners)
    run, planner = open_planner(opts, goal, out or default_run_dir(goal), files=files, **view)
    return run, planner, _finisher(run, viewer, offline)


@app.command()
@plan_options()
def run(
    goal: str = typer.Argument(..., help="What you want, in plain English"),
    files: List[Path] = FILES,
    opts: PlanOptions = PlanOptions(),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default ./spacechain-runs/<time>-<slug>)"),
    model_viewer: Optional[Path] = VIEWER,
    offline_viewers: bool = OFFLINE,
    as_json: bool = typer.Option(False, "--json", help="Print the answer, run folder and files as JSON."),
):
    """Plan and run a chain of Spaces for GOAL; writes a run folder with manifest.json and gallery.html."""

    def body():
        from spacechain.agent.events import JsonReport
        from spacechain.agent.run import clean_text

        text = clean_text(goal)  # bytes that are not UTF-8 could reach neither the model nor the manifest
        report = JsonReport()  # --json is one more listener of the planner's events
        run_, planner, finish = _prepare(opts, text, files, out, model_viewer, offline_viewers, (report,))
        try:
            result = planner.turn(text)
        finally:
            run_.close()
            gallery = finish()
        if as_json:
            _emit_json(
                report.result(run_dir=str(run_.dir), manifest=str(run_.dir / "manifest.json"), gallery=str(gallery))
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
@plan_options()
def chat(
    files: List[Path] = FILES,
    opts: PlanOptions = PlanOptions(),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder shared by all turns"),
    model_viewer: Optional[Path] = VIEWER,
    offline_viewers: bool = OFFLINE,
):
    """An interactive session: goals turn after turn, with memory, sharing one run folder."""

    def body():
        from spacechain.agent.repl import Repl
        from spacechain.agent.start import load_model

        run_, planner, finish = _prepare(opts, "chat", files, out, model_viewer, offline_viewers)
        history = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "spacechain" / "history"
        try:
            code = Repl(planner, lambda name: load_model(opts, name).model, finish, history=history).loop()
        finally:
            run_.close()
            finish()
        raise typer.Exit(code)

    _guard(body)


@app.command()
def show(
    run_dir: Path = typer.Argument(..., help="A run folder made by `spacechain run`"),
    port: int = PORT,
    browser: bool = BROWSER,
):
    """Serve a run's gallery on 127.0.0.1 (3D models do not load from file://) until Ctrl-C."""

    def body():
        from spacechain.agent.replay import load_manifest
        from spacechain.agent.show import serve
        from spacechain.tools import SpacechainError

        if not (run_dir / "gallery.html").is_file():
            raise SpacechainError(f"{run_dir} has no gallery.html; give a run folder made by `spacechain run`.")
        manifest = load_manifest(run_dir)  # it names the files the gallery may show
        try:
            server, url = serve(run_dir, port, manifest)
        except OSError as exc:
            raise SpacechainError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another --port.") from None
        try:  # from the moment the address is out, Ctrl-C is how this command ends (exit 0)
            echo(url)
            if browser:
                import webbrowser

                webbrowser.open(url)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    _guard(body)


def _check_replay(replay, files: list[Path], as_json: bool) -> None:
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
            if hasattr(replay, "prepare"):
                replay.prepare(run_.client)  # a graph's chain needs its Spaces' APIs
            chain = replay.chain
            problems = check_chain(run_, chain, replay.overridden, replay.manifest.get("user_files"))
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
    run_dir: Path = typer.Argument(..., help="A run folder made by `spacechain run`, or a gr.Workflow workflow.json"),
    sets: List[str] = typer.Option(
        [], "--set", help="name=value (or N.name=value) to change an input; for a graph, a reference's id or label"
    ),
    files: List[Path] = typer.Option([], "--file", "-f", help="A local file the replay may upload"),
    out: Optional[Path] = typer.Option(None, "--out", help="New run folder"),
    no_cache: bool = NO_CACHE,
    model_viewer: Optional[Path] = VIEWER,
    offline_viewers: bool = OFFLINE,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only check the chain (Spaces, endpoints, inputs, files); call no Space."
    ),
    items: Optional[Path] = typer.Option(
        None, "--items", help="With a workflow.json: run the graph once per line (JSON objects of input values)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the new run folder and files as JSON."),
):
    """Re-run a recorded chain of Space calls, or a gr.Workflow graph's Space operators, without any LLM."""

    def body():
        from spacechain.agent.display import Board
        from spacechain.agent.run import default_run_dir
        from spacechain.agent.start import REPLAY_MODEL, Replay, ReplayTurn, open_run, overrides
        from spacechain.tools import InvalidInputs

        if run_dir.is_dir() or not run_dir.exists():
            if items:
                raise InvalidInputs("--items runs a gr.Workflow graph once per line; give a workflow.json, not a run.")
            replay = Replay.load(run_dir, overrides(sets))
        else:
            from spacechain.agent.workflow_run import WorkflowReplay, read_items

            replay = WorkflowReplay.load(run_dir, overrides(sets), read_items(items) if items else None)
        if dry_run:
            return _check_replay(replay, files, as_json)
        viewer = _viewer(model_viewer, offline_viewers)
        opts = PlanOptions(cache=not no_cache)
        run_ = open_run(opts, replay.goal, out or default_run_dir(replay.goal), REPLAY_MODEL, files)
        finish = _finisher(run_, viewer, offline_viewers)
        try:
            if hasattr(replay, "prepare"):
                replay.prepare(run_.client)
            ReplayTurn(run_, replay, [Board()]).turn()
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
    workflow: Optional[Path] = typer.Option(
        None, "--workflow", help="Write the chain as a gr.Workflow graph (workflow.json) instead of a script"
    ),
    trace: Optional[Path] = typer.Option(
        None, "--trace", help="Write the run's conversation as a Hub session trace (JSONL) instead of a script"
    ),
    push: Optional[str] = typer.Option(None, "--push", help="With --trace: upload it to this Hub dataset (owner/name)"),
    private: bool = typer.Option(False, "--private", help="With --push: make a new dataset private"),
):
    """Write a run as a standalone Python script (default), a gr.Workflow graph, or a Hub session trace."""

    def body():
        from spacechain.agent.replay import build_chain, export_script, load_manifest
        from spacechain.tools import InvalidInputs

        if sum(x is not None for x in (output, workflow, trace)) > 1:
            raise InvalidInputs("give one of -o, --workflow and --trace; each writes one kind of export.")
        if push and not trace:
            raise InvalidInputs("--push uploads a trace; give --trace trace.jsonl with it.")
        if workflow:
            return _export_workflow(run_dir, workflow)
        if trace:
            return _export_trace(run_dir, trace, push, private)
        script = export_script(build_chain(load_manifest(run_dir)), str(run_dir))
        if output:
            output.write_text(script, encoding="utf-8")
            echo(f"wrote {output}", err=True)
        else:
            echo(script, nl=False)

    _guard(body)


def _export_workflow(run_dir: Path, path: Path) -> None:
    import json

    from spacechain.agent.record import RunRecord
    from spacechain.agent.workflow import export_workflow
    from spacechain.tools import Client

    record = RunRecord.load(run_dir)
    with Client(out_dir=run_dir) as client:
        exported = export_workflow(record, client)
    path.write_text(json.dumps(exported.graph, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for note in exported.notes:
        echo(f"note: {note}", err=True)
    echo(
        f'wrote {path} (open it with gr.Workflow(graph="{path}").launch(); run it with spacechain replay {path})',
        err=True,
    )


def _export_trace(run_dir: Path, path: Path, push: str | None, private: bool) -> None:
    from spacechain.agent.record import RunRecord
    from spacechain.agent.trace import push_trace, trace_text

    text = trace_text(RunRecord.load(run_dir))
    path.write_text(text, encoding="utf-8")
    echo(f"wrote {path}", err=True)
    if push:
        echo(push_trace(path, push, private=private))
