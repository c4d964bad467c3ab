"""What the CLI serves and writes from a hostile run folder: `spacechain show` serves only the gallery's
own files, to this machine only, never as active content; `spacechain export` writes a script that
compiles and keeps every input apart."""

from __future__ import annotations

import ast
import json
import math
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from cli_safety_support import no_control, run_folder
from cli_support import SPACECHAIN, interrupt

# --------------------------------------------------------------------------- `spacechain show`


def _gallery_folder(tmp_path: Path) -> Path:
    folder = (tmp_path / "run").resolve()
    (folder / "sub").mkdir(parents=True)
    (folder / "gallery.html").write_text("<!doctype html><title>gallery</title>")
    (folder / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 10)
    (folder / "evil.html").write_text("<script>fetch('/manifest.json')</script>")
    (folder / "evil.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (folder / "sub" / "dog.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "secret.txt").write_text("not listed")
    (tmp_path / "outside.png").write_text("outside the run folder")
    (folder / "link.png").symlink_to(tmp_path / "outside.png")
    calls = [
        {
            "id": 1,
            "space": "acme/x",
            "endpoint": "/x",
            "status": "complete",
            "inputs": {"p": "a cat"},
            "outputs": [
                str(folder / "cat.png"),
                str(folder / "evil.html"),
                {"path": str(folder / "evil.svg")},
                str(folder / "sub" / "dog.png"),
                str(folder / "link.png"),
                str(tmp_path / "outside.png"),
            ],
            "files": [{"direction": "out", "local": str(folder / "cat.png"), "remote": "http://h/cat.png"}],
        }
    ]
    (folder / "manifest.json").write_text(json.dumps({"goal": "g", "calls": calls}))
    return folder


@pytest.fixture
def shown(tmp_path: Path):
    folder = _gallery_folder(tmp_path)
    proc = subprocess.Popen(
        [SPACECHAIN, "show", str(folder), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/gallery.html"), proc.stderr.read()
        yield url.rsplit("/", 1)[0]
        _, stderr = interrupt(proc)
        assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_show_checks_the_host_header(shown: str) -> None:
    port = shown.rsplit(":", 1)[1]
    for host in ("evil.test", f"evil.test:{port}", "127.0.0.1", f"127.0.0.2:{port}", f"localhost.evil:{port}", ""):
        r = httpx.get(f"{shown}/gallery.html", headers={"Host": host}, timeout=10)
        assert 400 <= r.status_code < 500 and "<title>" not in r.text, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        r = httpx.get(f"{shown}/gallery.html", headers={"Host": host}, timeout=10)
        assert r.status_code == 200 and "<title>gallery</title>" in r.text, host
        assert r.headers["content-type"].startswith("text/html") and r.headers["x-content-type-options"] == "nosniff"


def test_show_serves_only_the_files_the_manifest_lists(shown: str) -> None:
    def get(path: str) -> httpx.Response:
        return httpx.get(shown + path, timeout=10)

    png = get("/cat.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG") and png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff"
    assert get("/sub/dog.png").status_code == 200
    for path in (
        "/sub",
        "/sub/",
        "/secret.txt",
        "/manifest.json",
        "/link.png",
        "/../outside.png",
        "/%2e%2e/outside.png",
        "/nope.png",
        "//etc/passwd",
        "/gallery.html/",
    ):
        r = get(path)
        assert r.status_code == 404 and "Index of" not in r.text, path
    assert httpx.head(shown + "/secret.txt", timeout=10).status_code == 404
    assert httpx.post(shown + "/cat.png", timeout=10).status_code >= 400


def test_show_never_runs_space_made_html_or_svg_on_its_origin(shown: str) -> None:
    for name in ("evil.html", "evil.svg"):
        r = httpx.get(f"{shown}/{name}", timeout=10)
        assert r.status_code == 200 and "<script>" in r.text  # the file is there, as a download
        kind = r.headers["content-type"]
        assert "html" not in kind and "svg" not in kind and "xml" not in kind, kind
        assert r.headers["content-disposition"].startswith("attachment")
        assert r.headers["content-security-policy"] == "sandbox"
        assert r.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------- `spacechain export`


def test_exported_script_compiles_and_keeps_every_input_apart(tmp_path: Path) -> None:
    inputs = {
        "a b": "one",
        "a-b": "two",
        "a_b": "three",
        "ｘ": 1,
        "x": 2,
        "X": 3,
        "1st": 4,
        "class": 5,
        "é": "e",
        "ß": "s",
        "値": "v",
        "": "empty",
        "__": "under",
        "ratio": float("nan"),
        "big": float("inf"),
    }
    calls = [
        {
            "id": 1,
            "space": "acme/x",
            "endpoint": "/x",
            "session": "default",
            "status": "complete",
            "inputs": inputs,
            "outputs": ["ok"],
            "files": [],
        },
        {
            "id": 2,
            "space": "acme/y",
            "endpoint": "/y",
            "status": "complete",
            "inputs": [{"a b": "one"}, "\x00nul"],
            "outputs": [],
            "files": [],
        },
    ]
    goal = 'a """docstring""" breaker \\ with \x00 NUL,\x1b[2J escapes and \ud800 surrogate\\'
    folder = run_folder(tmp_path, "run", json.dumps({"goal": goal, "calls": calls}))
    script_path = tmp_path / "script.py"
    proc = subprocess.run(
        [SPACECHAIN, "export", str(folder), "-o", str(script_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    source = script_path.read_text(encoding="utf-8")
    code = compile(source, str(script_path), "exec")  # a SyntaxError fails the test
    names = [t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets]
    assert len(names) == len(set(names)) and all(n.isascii() and n.isidentifier() for n in names), names

    seen = []

    class FakeClient:
        def __init__(self, **_):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def call(self, space, endpoint, args, session=None):
            seen.append((space, endpoint, args))
            return ["ok"]

    namespace: dict = {"__name__": "exported"}
    exec(code, namespace)
    namespace["Client"] = FakeClient
    namespace["main"]()
    (_, _, first), (_, _, second) = seen
    assert math.isnan(first.pop("ratio")) and first.pop("big") == math.inf
    assert first == {k: v for k, v in inputs.items() if k not in ("ratio", "big")}  # no two names merged
    assert second == [{"a b": "one"}, "\x00nul"]
    stdout = subprocess.run([SPACECHAIN, "export", str(folder)], capture_output=True, text=True, timeout=60)
    assert stdout.returncode == 0 and stdout.stdout == source and no_control(stdout.stdout)
