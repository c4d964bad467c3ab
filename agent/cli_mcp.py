"""Commands for coding agents: `mcp` (the MCP server), `session ls|clear` (CLI sessions that last across
processes), `skill` (an Agent Skill that teaches spacechain)."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, List, Optional

import typer

from .cli import NO_CACHE, WAKE, _cache, _emit_json, _guard, app, echo, fail

INSTALL_HINT = 'the MCP server needs the mcp package: pip install "spacechain[mcp]"'


@app.command("mcp")
def mcp_command(
    http: Optional[int] = typer.Option(
        None, "--http", min=1, max=65535, help="Serve Streamable HTTP on 127.0.0.1:PORT at /mcp instead of stdio"
    ),
    out: Path = typer.Option(Path("spacechain-outputs"), "--out", help="Folder for output files"),
    allow: List[Path] = typer.Option(
        [], "--allow", help="A folder whose files may be uploaded; repeatable (default: the working directory)"
    ),
    no_cache: bool = NO_CACHE,
    wake: float = WAKE,
):
    """Serve spacechain's tools to coding agents (Claude Code, Cursor, any MCP client) over MCP."""

    def body():
        try:
            import mcp  # noqa: F401
        except ImportError:
            raise fail(INSTALL_HINT) from None
        from spacechain.tools import Client

        from .mcp import UploadGuard, serve

        out_dir = out.expanduser().resolve()  # resolved once: the server's cwd may change meaning later
        folders = list(allow) or [Path.cwd()]
        missing = [str(f) for f in folders if not f.expanduser().is_dir()]
        if missing:
            raise fail(f"--allow {missing[0]} is not a folder; give an existing folder.")
        cache = _cache(no_cache)
        client = Client(out_dir=out_dir, cache=cache, wake_timeout=wake)
        client.trust_named_urls = False  # URLs come from the agent's model, not from the user
        client.upload_guard = UploadGuard(client, folders)
        if http:
            import socket

            with socket.socket() as probe:  # a port in use is a one-line error, not a server log
                try:
                    probe.bind(("127.0.0.1", http))
                except OSError:
                    raise fail(f"port {http} on 127.0.0.1 is in use; pick another --http PORT.") from None
            echo(f"spacechain mcp: serving on http://127.0.0.1:{http}/mcp (outputs in {out_dir})", err=True)
        try:
            serve(client, use_cache=cache is not None, http_port=http)
        finally:
            client.close()

    _guard(body)


# ---------------------------------------------------------------- CLI sessions

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def sessions_dir() -> Path:
    """$HF_HOME/spacechain/sessions (huggingface_hub's conventions, as the call cache)."""
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "spacechain" / "sessions"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        from spacechain.tools import InvalidInputs

        raise InvalidInputs(
            f"session name {name[:80]!r} is not valid; use up to 64 letters, digits, '-', '_' or '.', e.g. s1."
        )
    return name


def _session_file(space: str, name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", space).strip("_.")[:100] or "space"
    return sessions_dir() / f"{slug}--{name}.json"


def restore_session(client: Any, space: str, name: str) -> None:
    """Give the client's session `name` on `space` the Gradio session hash and State key kept on disk,
    so this call continues the session an earlier process used (and the cache stays per State)."""
    sp = client.space(space)
    sess = sp.session(check_name(name))
    path = _session_file(sp.label, name)
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text()[:100_000])
        if data.get("space") != sp.label or not isinstance(data.get("hash"), str):
            raise ValueError
    except (ValueError, AttributeError):
        from spacechain.tools import SpacechainError

        raise SpacechainError(
            f"session file {path} is corrupt; run `spacechain session clear {name}` and start it again."
        ) from None
    sess.hash = data["hash"]
    sess.state_key = data.get("state_key") if isinstance(data.get("state_key"), str) else None
    pending = data.get("pending_state")
    sess.pending_state = (pending[0], pending[1]) if isinstance(pending, list) and len(pending) == 2 else None


def save_session(client: Any, space: str, name: str) -> None:
    sp = client.space(space)
    sess = sp.session(name)
    path = _session_file(sp.label, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "space": sp.label,
        "name": name,
        "hash": sess.hash,
        "state_key": sess.state_key,
        "pending_state": list(sess.pending_state) if sess.pending_state else None,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)  # another process never reads half a file


def _sessions() -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(sessions_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text()[:100_000])
        except (OSError, ValueError):
            data = {}
        found.append((path, data if isinstance(data, dict) else {}))
    return found


session_app = typer.Typer(help="Sessions kept by `spacechain call --session NAME`.", no_args_is_help=True)
app.add_typer(session_app, name="session")


@session_app.command("ls")
def session_ls(as_json: bool = typer.Option(False, "--json", help="Print sessions as JSON.")):
    """List kept sessions: name, Space, last use."""

    def body():
        found = [{"name": d.get("name"), "space": d.get("space"), "updated": d.get("updated")} for _, d in _sessions()]
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
        gone = 0
        for path, data in _sessions():
            if name is None or data.get("name") == name or path.name.endswith(f"--{name}.json"):
                path.unlink(missing_ok=True)
                gone += 1
        echo(f"removed {gone} session(s) from {sessions_dir()}")

    _guard(body)


# ---------------------------------------------------------------- the Agent Skill


def skill_text() -> str:
    from importlib.resources import files

    return files("spacechain.prompts").joinpath("skill.md").read_text(encoding="utf-8")


@app.command("skill")
def skill(
    install: Optional[Path] = typer.Option(None, "--install", help="Write DIR/spacechain/SKILL.md instead of printing"),
):
    """Print the spacechain Agent Skill (or install it, e.g. --install ~/.claude/skills)."""

    def body():
        text = skill_text()
        if install is None:
            typer.echo(text, nl=False)
            return
        target = install.expanduser() / "spacechain" / "SKILL.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        echo(f"wrote {target}")

    _guard(body)
