"""CLI sessions that last across processes (`call --session`, `session ls|clear`) and the Agent Skill,
every command of its examples run against the Hub stand-in."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex
from pathlib import Path

import anyio
import pytest
import yaml
from cli_support import SCRIPT, assert_one_error_line, cli
from PIL import Image


def _png(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (16, 16), color).save(path)
    return path


def _source(glb: str) -> str:
    """The sha256 of the image a test GLB was made from (its JSON chunk's asset.extras)."""
    data = Path(glb).read_bytes()
    return json.loads(data[20 : 20 + int.from_bytes(data[12:16], "little")])["asset"]["extras"]["source_sha256"]


def test_session_across_processes(hub_env, tmp_path: Path) -> None:
    red, blue = _png(tmp_path / "red.png", (220, 20, 20)), _png(tmp_path / "blue.png", (20, 20, 220))
    out = str(tmp_path / "out")
    space = "acme/trellis-lite"
    first = cli("call", space, "/image_to_3d", "-i", f"image={red}", "--session", "s1", "--out", out)
    assert first.returncode == 0, first.stderr
    # another process continues s1: its State is there
    glb = cli("call", space, "/extract_glb", "--session", "s1", "--out", out, "--json")
    assert glb.returncode == 0, glb.stderr
    path = json.loads(glb.stdout)["outputs"][0]
    assert Path(path).suffix == ".glb"
    assert _source(path) == hashlib.sha256(red.read_bytes()).hexdigest()  # made from s1's State
    # neither another name nor no name sees it
    assert_one_error_line(
        cli("call", space, "/extract_glb", "--session", "s2", "--out", out), "Generate a 3D model first"
    )
    assert_one_error_line(cli("call", space, "/extract_glb", "--out", out), "Generate a 3D model first")
    # s2 with its own image: its own State, and the cache never hands it s1's result
    assert cli("call", space, "/image_to_3d", "-i", f"image={blue}", "--session", "s2", "--out", out).returncode == 0
    glb2 = cli("call", space, "/extract_glb", "--session", "s2", "--out", out, "--json")
    assert glb2.returncode == 0, glb2.stderr
    assert "from the call cache" not in glb2.stderr
    path2 = json.loads(glb2.stdout)["outputs"][0]
    assert _source(path2) == hashlib.sha256(blue.read_bytes()).hexdigest()
    again = cli("call", space, "/extract_glb", "--session", "s1", "--out", out, "--json")
    assert "from the call cache" in again.stderr
    assert Path(json.loads(again.stdout)["outputs"][0]).read_bytes() == Path(path).read_bytes()

    listing = json.loads(cli("session", "ls", "--json").stdout)
    assert sorted((s["name"], s["space"]) for s in listing["sessions"]) == [("s1", space), ("s2", space)]
    assert Path(listing["dir"]).is_relative_to(tmp_path / "hf_home" / "spacechain")
    kept = json.loads(next(Path(listing["dir"]).glob("*--s1.json")).read_text())
    assert re.fullmatch(r"[0-9a-f]{12}", kept["hash"]) and kept["state_key"]
    assert cli("session", "clear", "s1").stdout.startswith("removed 1 session(s)")
    assert [s["name"] for s in json.loads(cli("session", "ls", "--json").stdout)["sessions"]] == ["s2"]
    # s1 is gone: a new process starts it afresh
    assert_one_error_line(cli("call", space, "/extract_glb", "--session", "s1", "--out", out, "--no-cache"), "Generate")
    assert_one_error_line(cli("call", space, "/extract_glb", "--session", "bad name"), "session name")
    assert cli("session", "clear").stdout.startswith("removed 2 session(s)")


def _skill_commands(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_skill_format_and_every_example_command(hub_env, tmp_path: Path) -> None:
    printed = cli("skill")
    assert printed.returncode == 0
    installed = cli("skill", "--install", str(tmp_path / "skills"))
    assert installed.returncode == 0, installed.stderr
    text = (tmp_path / "skills" / "spacechain" / "SKILL.md").read_text()
    assert text == printed.stdout
    front = yaml.safe_load(text.split("---\n")[1])
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", front["name"]) and len(front["name"]) <= 64
    assert 0 < len(front["description"]) <= 1024

    # The skill names real Spaces; the stand-in serves them with the test apps of the same shape.
    cfg = copy.deepcopy(hub_env.config)
    trellis = next(s for s in cfg["spaces"] if s["id"] == "acme/trellis-lite")
    cfg["spaces"].append({**trellis, "id": "JeffreyXiang/TRELLIS", "sha": "1" * 40})
    hub_env.set_config(cfg)
    work = tmp_path / "work"
    work.mkdir()
    _png(work / "photo.png", (30, 160, 60))

    commands = _skill_commands(text)
    assert len(commands) >= 7 and all(c.startswith("spacechain ") for c in commands)
    for command in commands:
        args = shlex.split(command)[1:]
        if args[0] == "mcp":
            _check_mcp_command(args, work)
            continue
        proc = cli(*args, cwd=work)
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stdout.strip(), command
        if args[0] == "search":
            assert "JeffreyXiang/TRELLIS" in proc.stdout
        if args[:2] == ["session", "ls"]:
            assert "s1  JeffreyXiang/TRELLIS" in proc.stdout  # the example's session was kept


def _check_mcp_command(args: list[str], cwd: Path) -> None:
    import os

    pytest.importorskip("mcp")
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    keys = ("HF_ENDPOINT", "HF_TOKEN", "HF_HOME", "PATH", "LITELLM_LOCAL_MODEL_COST_MAP")
    params = StdioServerParameters(
        command=SCRIPT, args=args, env={k: os.environ[k] for k in keys if k in os.environ}, cwd=cwd
    )

    async def main() -> None:
        async with Client(params, read_timeout_seconds=60) as client:
            result = await client.call_tool("get_space_api", {"space": "JeffreyXiang/TRELLIS"})
            assert not result.is_error and "/extract_glb" in result.content[0].text

    anyio.run(main)
