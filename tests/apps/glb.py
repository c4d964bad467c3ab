"""A binary glTF cube, made without gradio (the gallery tests import it too)."""

from __future__ import annotations

import json
import struct
from typing import Any


def make_glb(color: tuple[float, float, float], extras: dict[str, Any]) -> bytes:
    """A valid binary glTF 2.0 cube (24 vertices with flat normals, 36 indices).

    `extras` is stored in asset.extras so tests can see which input made the model.
    """
    positions: list[float] = []
    normals: list[float] = []
    indices: list[int] = []
    for axis in range(3):  # two faces per axis, flat normals need 4 own vertices per face
        for sign in (-1.0, 1.0):
            u, v = [a for a in range(3) if a != axis]
            base = len(positions) // 3
            corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
            for cu, cv in corners:
                p = [0.0, 0.0, 0.0]
                p[axis], p[u], p[v] = sign * 0.5, cu * 0.5, cv * 0.5
                positions += p
                n = [0.0, 0.0, 0.0]
                n[axis] = sign
                normals += n
            # Counter-clockwise when seen from outside: flip the winding on one side.
            quad = [0, 1, 2, 0, 2, 3] if (sign > 0) == (axis != 1) else [0, 2, 1, 0, 3, 2]
            indices += [base + i for i in quad]
    pos_bytes = struct.pack(f"<{len(positions)}f", *positions)
    nrm_bytes = struct.pack(f"<{len(normals)}f", *normals)
    idx_bytes = struct.pack(f"<{len(indices)}H", *indices)  # 72 bytes, already 4-aligned
    binary = pos_bytes + nrm_bytes + idx_bytes
    n_vert = len(positions) // 3
    gltf = {
        "asset": {"version": "2.0", "generator": "spacechain-test-apps", "extras": extras},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [*color, 1.0], "metallicFactor": 0.0}}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(pos_bytes), "target": 34962},
            {"buffer": 0, "byteOffset": len(pos_bytes), "byteLength": len(nrm_bytes), "target": 34962},
            {"buffer": 0, "byteOffset": len(pos_bytes) + len(nrm_bytes), "byteLength": len(idx_bytes), "target": 34963},
        ],
        "accessors": [
            # POSITION needs min/max by the spec; viewers use them for framing.
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": n_vert,
                "type": "VEC3",
                "min": [-0.5, -0.5, -0.5],
                "max": [0.5, 0.5, 0.5],
            },
            {"bufferView": 1, "componentType": 5126, "count": n_vert, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5123, "count": len(indices), "type": "SCALAR"},
        ],
    }
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)  # JSON chunk is padded with spaces, BIN chunk with zeros
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<I4s", len(js), b"JSON")
        + js
        + struct.pack("<I4s", len(binary), b"BIN\0")
        + binary
    )
