"""Commands on single Spaces, their kept sessions and the call cache: inspect, call, search, alternatives, quota,
session, cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from .cli import (
    NO_CACHE,
    WAKE,
    _cache,
    _emit_json,
    _guard,
    _positive_seconds,
    app,
    echo,
)


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
            health = client.health.health(sp.label) if client.health else None
            if as_json:
                contract = sp.contract.to_dict()
                contract.pop("text", None)
                status = vars(sp.status) if sp.status else None
                endpoints = schema.to_dict()
                for name, ep in endpoints.items():
                    ep["health"] = client.health.health(sp.label, name).to_dict() if client.health else None
                _emit_json(
                    {
                        "space": sp.label,
                        "contract": contract,
                        "status": status,
                        "health": health.to_dict() if health else None,
                        "endpoints": endpoints,
                    }
                )
                return
            c = sp.contract
            echo(f"{sp.label}: {c.title}".rstrip(": "))
            echo(f"host: {c.host}  (from {c.source})")
            if sp.status:
                echo(f"stage: {sp.status.stage}  hardware: {sp.status.hardware}  likes: {sp.status.likes}")
            if health:
                echo(health.describe())
            echo(schema.compact())

    _guard(body)


def _parse_inputs(client, space: str, endpoint: str, pairs: list[str]) -> dict:
    from spacechain.tools import InvalidInputs
    from spacechain.tools.values import coerce_text

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
    no_cache: bool = NO_CACHE,
    wake: float = WAKE,
    as_json: bool = typer.Option(False, "--json", help="Print outputs and the call record as JSON."),
    session: Optional[str] = typer.Option(
        None, "--session", help="Keep the Space's session (its State) under this name for later calls"
    ),
    fallback: bool = typer.Option(
        False,
        "--fallback",
        help="If the Space is down, full or out of GPU, run the call on its best equivalent Space",
    ),
):
    """Call one endpoint and print its outputs (files are downloaded to --out)."""

    def body():
        from spacechain.agent.display import Board
        from spacechain.agent.events import CallWatch
        from spacechain.tools import Client, SpacechainError

        from .sessions import restore_session, save_session

        with Client(out_dir=out, cache=_cache(no_cache), wake_timeout=wake) as client:
            board = Board()
            jobs: list = []

            def attempt(target: str, moved: Optional[dict]) -> list:
                if session:  # the Gradio session an earlier process kept under this name
                    restore_session(client, target, session)
                watch = CallWatch(f"{client.space(target).label} /{endpoint.lstrip('/')}", board)
                board(watch.submitted(target, endpoint, None, moved))
                job = client.submit(
                    target, endpoint, values, session=session, timeout=timeout, on_update=watch.update, moved=moved
                )
                jobs.append(job)
                watch.attach(job)
                try:
                    return job.result()
                except KeyboardInterrupt:
                    job.cancel()
                    raise
                finally:
                    if session:  # kept whatever the outcome: a failed State write unsettles the cache key
                        save_session(client, target, session)

            try:
                # A Space that is down is read (and its inputs converted) through its best equivalent.
                planned = client.pool.prepare(space, [endpoint]) if fallback else space
                values = _parse_inputs(client, planned, endpoint, inputs)
                with board.live():
                    outputs = client.pool.run(space, endpoint, session, attempt) if fallback else attempt(space, None)
            except SpacechainError as exc:
                if not fallback:  # name the equivalents that would have run it
                    exc.args = (f"{exc}{client.pool.hint(space, endpoint, exc)}",)
                if as_json:  # the failed call's record (error kind, retry time…) for scripts
                    record = getattr(exc, "record", None)
                    _emit_json(
                        {"outputs": None, "record": record.to_dict() if record else None, "error": exc.to_dict()}
                    )
                raise
            job = jobs[-1]
            if job.record.moved:
                echo(f"(ran on {job.record.space} in place of {job.record.moved['from']})", err=True)
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


@app.command()
def alternatives(
    space: str = typer.Argument(..., help="owner/name of the Space"),
    endpoint: Optional[str] = typer.Argument(None, help="Only this endpoint must match (default: the whole API)"),
    as_json: bool = typer.Option(False, "--json", help="Print the equivalents as a JSON list."),
):
    """Spaces with the same API as SPACE (its duplicates, origin and siblings on the Hub), best first."""

    def body():
        from spacechain.tools import Client, InvalidReference
        from spacechain.tools.refs import parse_ref

        if not parse_ref(space).space_id:
            raise InvalidReference(f"{space} is an app URL; alternatives are found on the Hub: give owner/name.")
        with Client() as client:
            found = client.pool.alternatives(space, endpoint)
        if as_json:
            _emit_json([e.to_dict() for e in found])
            return
        if not found:
            echo(f"no equivalent of {space} found on the Hub (duplicates with the same API)", err=True)
            return
        for e in found:
            checked = "" if e.confirmed else "  (not running: its API is not checked)"
            echo(
                f"{e.id}  ♥{e.likes}  {e.stage or '?'}  {e.hardware or '?'}  {e.relation}  "
                f"{e.health.describe()}{checked}"
            )

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


session_app = typer.Typer(help="Sessions kept by `spacechain call --session NAME`.", no_args_is_help=True)
app.add_typer(session_app, name="session")


@session_app.command("ls")
def session_ls(as_json: bool = typer.Option(False, "--json", help="Print sessions as JSON.")):
    """List kept sessions: name, Space, last use."""

    def body():
        from .sessions import kept_sessions, sessions_dir

        found = [
            {"name": d.get("name"), "space": d.get("space"), "updated": d.get("updated")} for _, d in kept_sessions()
        ]
        if as_json:
            _emit_json({"dir": str(sessions_dir()), "sessions": found})
            return
        for s in found:
            echo(f"{s['name'] or '?'}  {s['space'] or '?'}  {s['updated'] or '?'}")
        echo(f"{len(found)} session(s) in {sessions_dir()}", err=True)

    _guard(body)


@session_app.command("clear")
def session_clear(name: Optional[str] = typer.Argument(None, help="Only this session name (all Spaces)")):
    """Forget kept sessions (all of them, or those named NAME)."""

    def body():
        from .sessions import kept_sessions, sessions_dir

        gone = 0
        for path, data in kept_sessions():
            if name is None or data.get("name") == name or path.name.endswith(f"--{name}.json"):
                path.unlink(missing_ok=True)
                gone += 1
        echo(f"removed {gone} session(s) from {sessions_dir()}")

    _guard(body)
