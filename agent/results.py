"""A run's results under readable names: `results/<name>` in the run folder is a copy of each result (a media
output no later call consumed) named from the input a person knows it by (`eiffel-tower.glb`), and the
manifest lists them (`results`: name, path, the file it copies, title, sha256).

Names are stable: the same chain run again gets the same names, a result keeps its name from turn to turn
(the manifest's earlier list is honoured), and a new one never takes a name in use (`eiffel-tower-2.glb`).
The copies are written like every file of the run folder, through a temp file and a rename, never through a
link planted there; a result that stopped being one (a later turn took it further) loses its copy."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacechain.tools.files import own_dir, sha256_file
from spacechain.tools.kinds import kind_of_name, media_of

if TYPE_CHECKING:
    from .gallery import _Run

__all__ = ["RESULTS", "readable_stem", "result_names", "saved_results", "write_results"]

RESULTS = "results"
# What a name of ours looks like: a name read back from a manifest must be one (never a path, never hidden).
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,70}(\.[a-z0-9]{1,8})?")
_EXT = re.compile(r"\.[a-z0-9]{1,8}")


def readable_stem(title: str) -> str:
    """The file-name stem a title gives: `Eiffel Tower` → `eiffel-tower`; a file's name loses its extension
    (`photo.png` → `photo`); a title with no letters or digits in it → `result`."""
    base, ext = os.path.splitext(title)
    if ext and media_of(kind_of_name(title)):
        title = base
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-") or "result"


def result_names(run: _Run, previous: dict[str, str]) -> dict[str, str]:
    """Each result's readable name, by its normalised path: the one `previous` (file → name, from the
    manifest) gave it, else its title's stem and its extension, numbered past the names in use."""
    order: dict[str, int] = {}
    for i, path, _ in run.results():
        order.setdefault(run.norm(path), i)
    names: dict[str, str] = {}
    for key in order:
        if key in previous and previous[key] not in names.values():
            names[key] = previous[key]
    for key, i in order.items():
        if key in names:
            continue
        ext = os.path.splitext(key)[1].lower()
        stem, ext = readable_stem(run.title(i)), ext if _EXT.fullmatch(ext) else ""  # a Space's name stays out
        name, n = stem + ext, 2
        while name in names.values():  # two results of one prompt: eiffel-tower.glb, eiffel-tower-2.glb
            name, n = f"{stem}-{n}{ext}", n + 1
        names[key] = name
    return names


def saved_results(entries: Any) -> list[dict]:
    """The manifest's `results` entries that are well formed (a hand-edited manifest may hold anything)."""
    if not isinstance(entries, list):
        return []
    return [
        e
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("name"), str)
        and _NAME.fullmatch(e["name"])
        and isinstance(e.get("file"), str)
    ]


def write_results(run_dir: Path, manifest: dict) -> list[dict]:
    """Copy each result of the run into `results/` under its readable name; returns the manifest's new
    `results` list. Only files a call downloaded into the run folder are copied: not a URL, a missing file, a
    path a Space wrote as text, nor a file whose bytes contradict its kind (flagged). A file in `results/`
    that is not one of ours is never replaced."""
    from .gallery import _Run
    from .run import copy_file

    root = Path(run_dir).resolve()
    run = _Run(root, [c for c in manifest.get("calls") or [] if isinstance(c, dict)])
    before = saved_results(manifest.get("results"))
    names = result_names(run, {run.norm(e["file"]): e["name"] for e in before})
    ours = {e["name"] for e in before}
    titles = {run.norm(path): run.title(i) for i, path, _ in run.results()}
    downloaded = {
        run.norm(f["local"])
        for c in run.calls
        for f in c.get("files") or []
        if isinstance(f, dict) and f.get("direction") == "out" and isinstance(f.get("local"), str)
    }
    folder, claimed = root / RESULTS, set(names.values())
    entries: list[dict] = []
    for src, name in names.items():
        if src not in downloaded or src in run.problems or not _inside(src, root):
            continue
        own_dir(folder)  # refuses a link planted as results/
        digest = sha256_file(src)
        name = _free_name(folder, name, digest, ours, claimed)
        claimed.add(name)
        if not _holds(folder / name, digest):
            copy_file(Path(src), folder / name)
        entries.append(
            {"name": name, "path": f"{RESULTS}/{name}", "file": src, "title": titles.get(src, ""), "sha256": digest}
        )
    kept = {e["name"] for e in entries}
    for name in ours - kept:
        stale = folder / name
        if folder.is_dir() and not folder.is_symlink() and (stale.is_file() or stale.is_symlink()):
            stale.unlink()  # removes a link itself, never what it points to
    return entries


def _inside(path: str, root: Path) -> bool:
    """A regular file of the run folder, reached through no link that leads out of it."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return False
    return real.is_file() and real.is_relative_to(root)


def _free_name(folder: Path, name: str, digest: str, ours: set[str], claimed: set[str]) -> str:
    """`name`, or the next numbered one, where a file that is not one of ours is never replaced."""
    stem, ext = os.path.splitext(name)
    n = 2
    while name not in ours and _taken(folder / name, digest):
        name, n = f"{stem}-{n}{ext}", n + 1
        while name in claimed:
            name, n = f"{stem}-{n}{ext}", n + 1
    return name


def _taken(dest: Path, digest: str) -> bool:
    return (dest.exists() or dest.is_symlink()) and not _holds(dest, digest)


def _holds(dest: Path, digest: str) -> bool:
    """`dest` is a regular file (not a link) with these bytes."""
    return dest.is_file() and not dest.is_symlink() and sha256_file(dest) == digest
