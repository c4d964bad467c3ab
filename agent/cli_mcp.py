"""Commands for coding agents: `mcp` (the MCP server) and `skill` (an Agent Skill that teaches spacechain)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .cli import NO_CACHE, WAKE, _cache, _guard, _url, app, echo, fail

INSTALL_HINT = 'the MCP server needs the mcp package: pip install "spacechain[mcp]"'


def _app_urls(values: List[str]) -> List[str]:
    return [url for value in values if (url := _url(value, "--trust URL"))]


@app.command("mcp")
def mcp_command(
    http: Optional[int] = typer.Option(
        None, "--http", min=1, max=65535, help="Serve Streamable HTTP on 127.0.0.1:PORT at /mcp instead of stdio"
    ),
    out: Path = typer.Option(Path("spacechain-outputs"), "--out", help="Folder for output files"),
    allow: List[Path] = typer.Option(
        [], "--allow", help="A folder whose files may be uploaded; repeatable (default: the working directory)"
    ),
    trust: List[str] = typer.Option(
        [], "--trust", callback=_app_urls, help="An app URL on your own network the tools may call; repeatable"
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
        from .mcp import mcp_client, serve

        out_dir = out.expanduser().resolve()  # resolved once: the server's cwd may change meaning later
        folders = list(allow) or [Path.cwd()]
        missing = [str(f) for f in folders if not f.expanduser().is_dir()]
        if missing:
            raise fail(f"--allow {missing[0]} is not a folder; give an existing folder.")
        cache = _cache(no_cache)
        client = mcp_client(out_dir, folders, cache, wake, trust=trust)
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
