"""Small real 3D files of every kind the gallery's viewers show (a 3DGS splat PLY, a point-cloud PLY, OBJ, STL)."""

from __future__ import annotations

import math
import struct
from pathlib import Path

SPLAT_FIELDS = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
SPLAT_FIELDS += ["scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
ORANGE = (0.95, 0.4, 0.05)


def splat_ply(path: Path, n: int = 600) -> None:
    """A 3D Gaussian splat PLY (the fields 3DGS training writes): an orange ball of small gaussians."""
    head = f"ply\nformat binary_little_endian 1.0\nelement vertex {n}\n"
    head += "".join(f"property float {p}\n" for p in SPLAT_FIELDS) + "end_header\n"
    dc = [(c - 0.5) / 0.28209479 for c in ORANGE]  # colour = 0.5 + SH_C0 * f_dc
    golden, rows = math.pi * (3 - math.sqrt(5)), []
    for i in range(n):
        y = 1 - 2 * (i + 0.5) / n
        r, t = math.sqrt(1 - y * y), golden * i
        x, z = math.cos(t) * r * 0.8, math.sin(t) * r * 0.8
        rows.append(struct.pack("<17f", x, y * 0.8, z, 0, 0, 0, *dc, 6.0, -2.3, -2.3, -2.3, 1, 0, 0, 0))
    path.write_bytes(head.encode() + b"".join(rows))


def points_ply(path: Path, n: int = 3000) -> None:
    head = f"ply\nformat ascii 1.0\nelement vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
    head += "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    rows = [
        f"{math.cos(i * 0.37) * i / n:.4f} {math.sin(i * 0.37) * i / n:.4f} {i / n - 0.5:.4f} 240 100 10"
        for i in range(n)
    ]
    path.write_text(head + "\n".join(rows) + "\n")


CUBE_V = [(-1, -1, -1), (1, -1, -1), (1, 1, -1), (-1, 1, -1), (-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)]
CUBE_F = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4)]
CUBE_F += [(2, 3, 7), (2, 7, 6), (1, 2, 6), (1, 6, 5), (0, 4, 7), (0, 7, 3)]


def obj(path: Path) -> None:
    verts = "".join(f"v {x} {y} {z}\n" for x, y, z in CUBE_V)
    path.write_text("o cube\n" + verts + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in CUBE_F))


def stl(path: Path) -> None:
    """A binary STL with zero normals, as many exporters write them."""
    tris = b"".join(struct.pack("<12fH", 0, 0, 0, *CUBE_V[a], *CUBE_V[b], *CUBE_V[c], 0) for a, b, c in CUBE_F)
    path.write_bytes(b"binary stl".ljust(80, b"\0") + struct.pack("<I", len(CUBE_F)) + tris)
