"""Shared by the CLI-safety tests: hostile text (terminal control sequences) and a run folder holding
only a manifest."""

from __future__ import annotations

from pathlib import Path

OSC52 = "\x1b]52;c;aGVsbG8=\x07"  # writes "hello" to the clipboard
CLEAR = "\x1b[2J"
HOSTILE = f"A{OSC52} B{CLEAR} C\u202eD\x9b2J"


def no_control(text: str) -> bool:
    return "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text


def run_folder(tmp_path: Path, name: str, manifest_text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "manifest.json").write_text(manifest_text)
    return folder
