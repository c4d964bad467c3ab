"""Checks on files the apps produce: content hashes and the glTF JSON of a .glb."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def glb_json(path: str | Path) -> dict:
    """The JSON chunk of a binary glTF file."""
    blob = Path(path).read_bytes()
    magic, version, total = struct.unpack_from("<4sII", blob, 0)
    assert (magic, version, total) == (b"glTF", 2, len(blob))
    length, kind = struct.unpack_from("<I4s", blob, 12)
    assert kind == b"JSON"
    return json.loads(blob[20 : 20 + length])


def glb_source(path: str | Path) -> str:
    """asset.extras.source_sha256: the sha256 of the image the test app made the model from."""
    return glb_json(path)["asset"]["extras"]["source_sha256"]
