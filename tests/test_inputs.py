"""Inputs as models and users write them, checked and shaped before anything reaches a Space."""

from __future__ import annotations

from pathlib import Path


def test_a_path_dict_is_a_file_reference(hub_client, tmp_path: Path):
    """agents.md writes file inputs as {"path": ...}; models copy that shape."""
    f = tmp_path / "note.txt"
    f.write_bytes(b"12345")
    assert hub_client.call("acme/toolbox", "/count_upload", {"file": {"path": str(f)}}) == ["5"]
