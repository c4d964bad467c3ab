"""Every bad input to the CLI is one line that says what to do: bad options, ids and URLs, malformed
manifests for replay/export/show, corrupt cache entries, odd paths, an unreachable Hub, a failed call."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_safety_support import CLEAR, OSC52, no_control, run_folder
from cli_support import SPACECHAIN, assert_one_error_line, cli_env, error_lines, spacechain
from cli_support import cli as run

from spacechain.tools.cache import CallCache

# --------------------------------------------------------------------------- bad options, ids and URLs


BAD_ARGS = {
    "negative timeout": (["call", "acme/toolbox", "noop", "--timeout", "-5"], 2, ["--timeout", "seconds"]),
    "infinite timeout": (["call", "acme/toolbox", "noop", "--timeout", "inf"], 2, ["--timeout"]),
    "nan timeout": (["call", "acme/toolbox", "noop", "--timeout", "nan"], 2, ["--timeout"]),
    "nan wake": (["inspect", "acme/toolbox", "--wake", "nan"], 2, ["--wake"]),
    "dots in id": (["inspect", "a/b..c"], 1, ["a/b..c", "'..'"]),
    "dashes in id": (["call", "a--b/c", "x"], 1, ["a--b/c", "'--'"]),
    "id ends with a dot": (["inspect", "acme/x."], 1, ["acme/x."]),
    "unclosed IPv6": (["inspect", "http://[::1"], 1, ["http://[::1", "Space URL"]),
    "port out of range": (["inspect", "http://127.0.0.1:99999"], 1, ["99999", "Space URL"]),
    "port not a number": (["call", "http://127.0.0.1:abc/", "x"], 1, ["127.0.0.1:abc"]),
    "space in host": (["inspect", "http://exa mple.com/"], 1, ["host name"]),
    "Space page with a bad id": (["inspect", "https://huggingface.co/spaces/a/b..c"], 1, ["a/b..c"]),
    "api-base unclosed IPv6": (["run", "x", "--model", "openai/m", "--api-base", "http://[::1"], 2, ["--api-base"]),
    "api-base bad port": (
        ["chat", "--model", "openai/m", "--api-base", "http://127.0.0.1:70000/v1"],
        2,
        ["--api-base", "70000"],
    ),
    "api-base not http": (["run", "x", "--model", "openai/m", "--api-base", "ftp://host/v1"], 2, ["--api-base"]),
}


def test_bad_options_ids_and_urls_are_one_line(hub_env, tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        procs = dict(zip(BAD_ARGS, pool.map(lambda case: run(*case[0], cwd=tmp_path), BAD_ARGS.values())))
    for name, (args, code, fragments) in BAD_ARGS.items():
        proc = procs[name]
        try:
            assert proc.stdout == ""
            assert_one_error_line(proc, *fragments)
            assert proc.returncode == code
        except AssertionError as exc:
            raise AssertionError(f"{name}: {args}: {exc}") from None
    assert not (tmp_path / "spacechain-runs").exists()  # nothing ran


# --------------------------------------------------------------------------- malformed manifests, corrupt cache entries


BAD_MANIFESTS = {
    "not json": "{calls: [",
    "a list": "[1, 2]",
    "calls not a list": '{"calls": {"a": 1}}',
    "a call not an object": '{"calls": [1]}',
    "no space": '{"calls": [{"status": "complete", "endpoint": "/x"}]}',
    "space not text": '{"calls": [{"status": "complete", "space": 5, "endpoint": "/x"}]}',
    "files not records": '{"calls": [{"status": "complete", "space": "a/b", "endpoint": "/x", "files": ["f"]}]}',
    "local not text": '{"calls": [{"status": "complete", "space": "a/b", "endpoint": "/x", "files": [{"local": 1}]}]}',
    "goal not text": '{"goal": ["x"], "calls": [{"status": "complete", "space": "a/b", "endpoint": "/x"}]}',
    "user_files not records": '{"user_files": "x", "calls": []}',
    "deep": "[" * 100_000 + "]" * 100_000,
}


def test_malformed_manifests_are_one_line_for_replay_export_and_show(tmp_path: Path) -> None:
    cases = []
    for name, text in BAD_MANIFESTS.items():
        folder = run_folder(tmp_path, name.replace(" ", "_"), text)
        (folder / "gallery.html").write_text("<!doctype html>")
        cases += [(name, cmd, folder) for cmd in ("replay", "export", "show")]
    env = {"SPACECHAIN_CACHE": str(tmp_path / "cache")}
    with ThreadPoolExecutor(max_workers=6) as pool:
        procs = list(pool.map(lambda c: _manifest_cmd(c[1], c[2], env), cases))
    for (name, cmd, folder), proc in zip(cases, procs):
        try:
            line = assert_one_error_line(proc, "manifest")
            assert proc.returncode == 1 and proc.stdout == ""
            assert str(folder) in line
        except AssertionError as exc:
            raise AssertionError(f"{cmd} with a manifest that is {name}: {exc}") from None


def _manifest_cmd(cmd: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    args = {
        "replay": ["replay", str(folder), "--no-cache", "--out", str(folder) + "-replay"],
        "export": ["export", str(folder)],
        "show": ["show", str(folder), "--no-browser"],
    }[cmd]
    return subprocess.run(
        [SPACECHAIN, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", **env},
    )


def test_corrupt_cache_entries_are_skipped_and_cleaned(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    entries = {
        "aa/aa01": "[1, 2]",
        "bb/bb02": '{"created": "yesterday"}',
        "cc/cc03": '{"created": 1e300}',
        "dd/dd04": json.dumps({"created": 1.0, "space": f"acme/{OSC52}x", "endpoint": f"/e{CLEAR}"}),
        "ee/ee05": "not json",
    }
    for key, text in entries.items():
        (cache / key).mkdir(parents=True)
        (cache / key / "entry.json").write_text(text)
    env = {**os.environ, "SPACECHAIN_CACHE": str(cache), "NO_COLOR": "1"}
    ls = subprocess.run([SPACECHAIN, "cache", "ls"], capture_output=True, text=True, env=env, timeout=60)
    assert ls.returncode == 0, ls.stderr
    assert "Traceback" not in ls.stderr and no_control(ls.stdout + ls.stderr)
    keys = [line.split()[0] for line in ls.stdout.splitlines()]
    assert sorted(keys) == ["bb02", "cc03", "dd04"]  # the list and the broken JSON are skipped
    assert "  acme/x/e\n" in ls.stdout  # printed, with the control sequences taken out
    js = subprocess.run([SPACECHAIN, "cache", "ls", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert js.returncode == 0 and "\x1b" not in js.stdout
    doc = json.loads(js.stdout)
    assert {e["key"]: e["space"] for e in doc["entries"]}["dd04"] == f"acme/{OSC52}x"  # JSON keeps the data
    clear = subprocess.run([SPACECHAIN, "cache", "clear"], capture_output=True, text=True, env=env, timeout=60)
    assert clear.returncode == 0 and clear.stdout.startswith("removed 3 cached call(s)")
    assert not cache.exists()


@pytest.mark.parametrize("argv", [["cache", "ls"], ["cache", "ls", "--json"], ["cache", "clear"]])
def test_cache_commands_go_through_the_error_wrapper(monkeypatch, capsys, argv: list[str]) -> None:
    from spacechain.agent import cli

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self.root))

    monkeypatch.setattr(CallCache, "entries", denied)
    monkeypatch.setenv("SPACECHAIN_CACHE", "/nonexistent/cache")
    monkeypatch.setattr("sys.argv", ["spacechain", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: Permission denied: /nonexistent/cache\n"


# --------------------------------------------------------------------------- odd paths, no Hub, a failed call


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["call", "acme/toolbox", "count_upload", "-i", "file=" + "a" * 300], "does not exist"),
        (
            [
                "run",
                "goal",
                "--file",
                "~nosuchuser_zz/x.png",
                "--model",
                "openai/x",
                "--api-base",
                "http://127.0.0.1:9",
            ],
            "does not exist",
        ),
        (["run", "goal", "--model", "hf:org/model", "--api-base", "http://127.0.0.1:9"], "no --api-base"),
        (["export", "RUN", "-o", "/nonexistent/dir/pipeline.py"], "No such file or directory"),
    ],
)
def test_odd_bad_input_is_one_line(hub_env, tmp_path, args, fragment):
    if "RUN" in args:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "manifest.json").write_text(
            json.dumps(
                {
                    "goal": "g",
                    "calls": [
                        {
                            "space": "acme/toolbox",
                            "endpoint": "/noop",
                            "status": "complete",
                            "inputs": None,
                            "outputs": ["ok"],
                        }
                    ],
                }
            )
        )
        args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    res = spacechain(args, cli_env(hub_env.url, tmp_path))
    errors = error_lines(res.stderr)
    assert res.returncode != 0 and len(errors) == 1 and fragment in errors[0], res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_hub_is_one_line(tmp_path):
    env = cli_env("http://127.0.0.1:9", tmp_path)
    for args in (["inspect", "acme/x"], ["search", "image"]):
        res = spacechain(args, env, timeout=120)
        errors = error_lines(res.stderr)
        assert res.returncode != 0 and len(errors) == 1 and "Cannot reach the Hub" in errors[0], res.stderr


def test_call_json_prints_the_failed_record(hub_env, tmp_path):
    res = spacechain(["call", "acme/toolbox", "/quota", "--json"], cli_env(hub_env.url, tmp_path))
    assert res.returncode == 1 and len(error_lines(res.stderr)) == 1
    out = json.loads(res.stdout)
    assert out["outputs"] is None and out["error"]["error"] == "quota_exceeded"
    assert out["error"]["retry_after_s"] == 588 and out["record"]["status"] == "error"


def test_ui_without_gradio_says_how_to_install(tmp_path):
    fake = tmp_path / "gradio"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no gradio here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([SPACECHAIN, "ui", "--no-browser"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == 'error: the studio needs Gradio: pip install "spacechain[ui]"'


def test_ui_on_a_taken_port_is_one_line(llm, tmp_path):
    import socket

    stub = llm(["<code>\nfinal_answer('x')\n</code>"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ["ui", "--no-browser", "--port", port, "--model", "openai/x", "--api-base", stub.url]
        proc = subprocess.run([SPACECHAIN, *args, "--out", str(tmp_path)], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port} (the port is taken); pick another --port."
