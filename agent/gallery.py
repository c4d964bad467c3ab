"""A static `gallery.html` for a run: one card per result (a media file no later call consumed), titled by
the input a person recognises and showing the chain of calls that made it ("Eiffel Tower" → acme/flux-lite
/generate → image → acme/trellis-lite /image_to_3d → model); every file behind a toggle; a timeline of the calls.

Everything from the manifest is untrusted (prompts, Space outputs): it is html-escaped, URLs are
percent-encoded relative paths, data never goes into a script context, and a CSP forbids any script but
the pinned model-viewer and any request to another host.
"""

from __future__ import annotations

import html
import importlib.resources
import os
from datetime import datetime
from pathlib import Path
from string import Template
from typing import Any, Iterator
from urllib.parse import quote

from spacechain.agent.record import RecordError, RunRecord
from spacechain.agent.results import RESULTS, result_names, saved_results
from spacechain.agent.run import write_file
from spacechain.agent.timeline import timeline_svg
from spacechain.agent.viewers import (  # noqa: F401 - the gallery's viewer settings, read by its callers
    LOCAL_MODEL_VIEWER,
    MODEL_VIEWER_ENV,
    MODEL_VIEWER_SRI,
    MODEL_VIEWER_URL,
    MODEL_VIEWER_VERSION,
    VIEWER_OF,
    VIEWERS_ENV,
    ViewerError,
    offline_model_viewer,
    script_hash,
    viewer_scripts,
)
from spacechain.tools.kinds import sniff

KINDS = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".gif"), "image"),
    **dict.fromkeys((".wav", ".mp3", ".ogg", ".flac"), "audio"),
    **dict.fromkeys((".mp4", ".webm", ".mov"), "video"),
    **dict.fromkeys((".glb", ".gltf"), "model"),
    # splats, point clouds, meshes: which viewer is told by the file's bytes (kinds.sniff), not its name
    **dict.fromkeys((".ply", ".splat", ".ksplat", ".spz", ".obj", ".stl"), "model3d"),
}
LABELS = {"splat": "Gaussian splat", "points": "point cloud", "mesh": "mesh", "obj": "mesh", "stl": "mesh"}
TEXT_MAX = 200
TITLE_MAX = 90

# Our only inline script: marks a page opened from disk, where browsers refuse to fetch 3D files, so the
# 3D cards say how to serve it. The CSP allows it by its hash, nothing else inline.
DISK_SCRIPT = "if (location.protocol === 'file:') document.documentElement.classList.add('from-disk');"
DISK_SCRIPT_SRC = script_hash(DISK_SCRIPT)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _kind(path: str) -> str | None:
    return KINDS.get(os.path.splitext(path)[1].lower())


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(top-level input name, scalar) for every scalar in a nested value; FileData dicts give their path."""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str):
            yield key, value["path"]
            return
        for k, v in value.items():
            yield from _leaves(v, key or str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v, key)
    else:
        yield key, value


def _is_path(s: str) -> bool:
    """Absolute paths and URLs (how the client records files), or relative media file names."""
    if len(s) > 1024 or "\n" in s:
        return False
    return s.startswith(("/", "http://", "https://")) or _kind(s) is not None


class _Run:
    """The manifest's calls with paths normalised, who produced which file, and each call's parents."""

    def __init__(self, run_dir: Path, calls: list[dict]):
        self.run_dir, self.calls = run_dir, calls
        # Inputs may name an earlier output by its Space URL rather than its local copy.
        self.alias = {
            f["remote"]: f["local"]
            for c in calls
            for f in c.get("files") or []
            if f.get("remote") and f.get("local") and f.get("direction") == "out"
        }
        # Outputs whose bytes contradict their component (an HTML page returned as an image).
        self.problems = {
            os.path.normpath(run_dir / f["local"]): str(f["problem"])
            for c in calls
            for f in c.get("files") or []
            if f.get("problem") and f.get("local")
        }
        try:  # who produced which file: the run record's answer (a malformed manifest: no chains)
            self.record = RunRecord.from_dict({"run_dir": str(run_dir), "calls": calls})
        except (RecordError, TypeError):
            self.record = RunRecord(run_dir=str(run_dir))
        self._index = {id(c): n for n, c in enumerate(self.record.calls)}
        self.parents: list[list[int]] = []
        self.via_session: list[bool] = []
        for i, call in enumerate(calls):
            parents = []
            for _, v in _leaves(call.get("inputs")):
                j = self.producer_of(v) if isinstance(v, str) else None
                if j is not None and j not in parents:
                    parents.append(j)
            # Stateful two-endpoint Spaces (image_to_3d then extract_glb) pass the asset in the session,
            # not as a file: the later call continues the latest other endpoint on that Space and session.
            # (A second /generate on the same session is a new chain, not a continuation.)
            session = [j for j in range(i) if self._continues(calls[j], call)][-1:] if not parents else []
            self.parents.append(parents or session)
            self.via_session.append(bool(session))

    def producer_of(self, path: str) -> int | None:
        """The index of the call that produced `path` (an input may name it by its Space URL)."""
        call = self.record.producer(self.alias.get(path, path))
        return self._index.get(id(call)) if call is not None else None

    @staticmethod
    def _continues(a: dict, b: dict) -> bool:
        return (
            a.get("status", "complete") == "complete"
            and a.get("space") == b.get("space")
            and a.get("endpoint") != b.get("endpoint")
            and (a.get("session") or "default") == (b.get("session") or "default")
        )

    def norm(self, s: str) -> str:
        s = self.alias.get(s, s)
        if s.startswith(("http://", "https://")):
            return s
        return os.path.normpath(self.run_dir / s)

    def rel(self, s: str) -> str:
        """Percent-encoded path relative to the run folder ("%3A" also rules out a `javascript:` scheme)."""
        path = self.norm(s)
        if path.startswith(("http://", "https://")):
            return ""  # never linked: the page makes no request to another host
        return quote(Path(os.path.relpath(path, self.run_dir)).as_posix(), safe="/")

    def chain(self, i: int) -> list[int]:
        """`i` and all its ancestors, in call order."""
        seen, todo = set(), [i]
        while todo:
            j = todo.pop()
            if j not in seen:
                seen.add(j)
                todo += self.parents[j]
        return sorted(seen)

    def cards(self) -> Iterator[tuple[int, str, str]]:
        """(producing call, path, kind) for each media output, first producer wins."""
        seen = set()
        for i, call in enumerate(self.calls):
            for _, v in _leaves(call.get("outputs")):
                if isinstance(v, str) and _is_path(v) and _kind(v) and self.norm(v) not in seen:
                    seen.add(self.norm(v))
                    yield i, v, _kind(v) or ""

    def consumed(self) -> set[str]:
        """Outputs a later call took as input, or carried on through its Space session (intermediates). A call
        that failed consumed nothing: what it was given stays a result."""
        used: set[str] = set()
        for i, call in enumerate(self.calls):
            if call.get("status", "complete") != "complete":
                continue
            used |= {self.norm(v) for _, v in _leaves(call.get("inputs")) if isinstance(v, str) and _is_path(v)}
            for j in self.parents[i] if self.via_session[i] else []:
                used |= {self.norm(v) for _, v in _leaves(self.calls[j].get("outputs")) if isinstance(v, str)}
        return used

    def results(self) -> list[tuple[int, str, str]]:
        """The cards: each media output no later call consumed, with its producing call and kind."""
        used = self.consumed()
        return [c for c in self.cards() if self.norm(c[1]) not in used]

    def title(self, i: int) -> str:
        """What a person recognises a chain by: its first text input (the prompt), else the user's file name."""
        for j in self.chain(i):
            for _, v in _leaves(self.calls[j].get("inputs")):
                if not isinstance(v, str) or not v.strip():
                    continue
                if not _is_path(v):
                    v = " ".join(v.split())
                    return v if len(v) <= TITLE_MAX else v[:TITLE_MAX] + "…"
                if self.producer_of(v) is None:
                    return os.path.basename(v.rstrip("/")) or v
        return ""


def _file_item(run: _Run, path: str) -> str:
    kind, rel = _kind(path) or "file", run.rel(path)
    name = _esc(os.path.basename(path.rstrip("/")) or path)
    if kind == "image" and rel:
        return f'<li class="file"><a href="{rel}"><img src="{rel}" alt="{name}" title="{name}"></a></li>'
    return f'<li class="file" title="{name}">{kind}</li>'


def _chain_html(run: _Run, i: int, kind: str) -> str:
    items = []
    for j in run.chain(i):
        call = run.calls[j]
        for key, v in _leaves(call.get("inputs")):
            if not isinstance(v, str) or not v:
                continue  # numbers and flags (seeds, steps) are noise in a chain
            if _is_path(v) and (run.producer_of(v) is not None or os.path.exists(run.norm(v))):
                items.append(_file_item(run, v))
            else:
                text = v if len(v) <= TEXT_MAX else v[:TEXT_MAX] + "…"
                items.append(f'<li class="text"><span><span class="key">{_esc(key)}</span> “{_esc(text)}”</span></li>')
        if run.via_session[j]:
            items.append(
                f'<li class="session" title="state kept in the Space session">'
                f"session {_esc(call.get('session') or 'default')}</li>"
            )
        items.append(
            f'<li class="call"><span><b>{_esc(call.get("space", "?"))}</b> {_esc(call.get("endpoint", ""))}</span></li>'
        )
    items.append(f'<li class="kind">{kind}</li>')
    return f'<ol class="chain">{"".join(items)}</ol>'


def _media_html(kind: str, rel: str, name: str) -> str:
    if kind == "image":
        return f'<a href="{rel}"><img src="{rel}" alt="{name}"></a>'
    if kind == "audio":
        return f'<audio controls preload="metadata" src="{rel}"></audio>'
    if kind == "video":
        return f'<video controls muted playsinline preload="metadata" src="{rel}"></video>'
    return (
        f'<model-viewer src="{rel}" alt="{name}" camera-controls auto-rotate touch-action="pan-y" '
        f'shadow-intensity="1"></model-viewer>'
    )


def _card(run: _Run, i: int, path: str, kind: str, title: str = "", readable: str = "", copied: bool = False) -> str:
    rel, name, label = run.rel(path), _esc(os.path.basename(path)), kind
    if not rel:
        media, link = '<p class="missing">remote file, not downloaded</p>', f'<span class="name">{name}</span>'
    else:
        # The link is the readable copy in results/ once it is written; before, the file itself, saved
        # under the readable name when downloaded.
        href = quote(f"{RESULTS}/{readable}") if copied else rel
        saved = f' download="{_esc(readable)}"' if readable else ""
        shown = _esc(readable) if copied else name
        media, link = _media_html(kind, rel, name), f'<a class="name" href="{href}"{saved}>{shown}</a>'
        if not os.path.exists(run.norm(path)):
            media = '<p class="missing">file missing</p>'
        elif run.norm(path) in run.problems:  # not embedded: the bytes are not what the card would show
            media = f'<p class="warning">⚠ {_esc(run.problems[run.norm(path)])}</p>'
        elif kind == "model3d":
            sniffed = sniff(run.norm(path))
            viewer = VIEWER_OF.get(sniffed)
            label = LABELS.get(viewer or "", "3D file")
            media = (
                f'<div class="viewer" data-viewer="{viewer}" data-kind="{_esc(sniffed)}" data-src="{rel}"></div>'
                if viewer
                else f'<p class="missing">a 3D file no viewer here shows ({_esc(sniffed)}): download it</p>'
            )
        if kind in ("model", "model3d") and media.startswith(("<model-viewer", '<div class="viewer"')):
            media += (
                '<p class="disk-hint">Browsers do not load 3D files into a page opened from disk: '
                "run <code>spacechain show RUN</code> with this run folder.</p>"
            )
    heading = f'<h3 class="title">{_esc(title)}</h3>' if title else ""
    return (
        f'<figure class="card {kind}"><div class="media">{media}</div>'
        f"<figcaption>{heading}{link}{_chain_html(run, i, label)}</figcaption></figure>"
    )


def _every_file(run: _Run) -> str:
    """All media files, intermediates included: small items behind a toggle."""
    items = []
    for i, path, kind in run.cards():
        call, rel, name = run.calls[i], run.rel(path), _esc(os.path.basename(path))
        thumb = f'<img src="{rel}" alt="">' if kind == "image" and rel else f'<span class="kind">{kind}</span>'
        items.append(
            f'<li>{thumb}<span><a href="{rel}">{name}</a><br><span class="key">'
            f"{_esc(call.get('space', '?'))} {_esc(call.get('endpoint', ''))}</span></span></li>"
        )
    return f'<details class="every"><summary>Every file ({len(items)})</summary><ul>{"".join(items)}</ul></details>'


def _seconds(value: Any) -> str:
    return f"{value:.1f} s" if isinstance(value, (int, float)) else ""


def _calls_table(calls: list[dict]) -> str:
    rows = []
    for n, c in enumerate(calls, 1):
        status = str(c.get("status", ""))
        if isinstance(c.get("error"), dict) and c["error"].get("error"):
            status += f" ({c['error']['error']})"
        rows.append(
            f"<tr><td>{_esc(c.get('id', n))}</td><td>{_esc(c.get('space', ''))}</td>"
            f"<td>{_esc(c.get('endpoint', ''))}</td><td>{_esc(status)}</td>"
            f'<td class="num">{_seconds(c.get("total_s"))}</td><td>{"yes" if c.get("cached") else ""}</td></tr>'
        )
    return (
        "<table><thead><tr><th>#</th><th>Space</th><th>Endpoint</th><th>Status</th><th>Time</th>"
        f"<th>Cached</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _date(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return str(value or "")


# The page around the cards, as data ($-placeholders filled by write_gallery; every value escaped).
PAGE = Template(importlib.resources.files("spacechain.agent").joinpath("gallery.html").read_text(encoding="utf-8"))


def write_gallery(
    run_dir: Path, manifest: dict, model_viewer: str | None = None, viewers: str | os.PathLike | None = None
) -> Path:
    """Write `<run_dir>/gallery.html` and return its path.

    `model_viewer` (else $SPACECHAIN_MODEL_VIEWER) is a local model-viewer.min.js, copied into the run
    folder so the page needs no network; without it the page loads the pinned CDN copy. `viewers` (else
    $SPACECHAIN_VIEWERS) is a folder from `viewers.offline_viewers()`: the splat and mesh viewers' files are
    copied from it into the run's assets/ the same way.
    """
    run_dir = Path(run_dir).resolve()
    run = _Run(run_dir, [c for c in manifest.get("calls") or [] if isinstance(c, dict)])
    cards = run.results()
    kinds = {kind for _, _, kind in run.cards()}
    script, script_src = viewer_scripts(run_dir, kinds, model_viewer, viewers)
    # Browsers refuse to fetch models from file:// pages.
    hint = (
        " 3D models load when this folder is served over http: <code>spacechain show RUN_DIR</code> "
        "(or <code>python -m http.server</code> inside it)."
        if kinds & {"model", "model3d"}
        else ""
    )
    status = str(manifest.get("status") or "unknown")
    answer = manifest.get("final_answer")
    titles = [run.title(i) for i, _, _ in cards]
    saved = saved_results(manifest.get("results"))
    readable = result_names(run, {run.norm(e["file"]): e["name"] for e in saved})
    on_disk = {run.norm(e["file"]): e["name"] for e in saved}
    names = [readable.get(run.norm(path), "") for _, path, _ in cards]
    copies = [on_disk.get(run.norm(path)) == name for (_, path, _), name in zip(cards, names)]
    model = manifest.get("model")
    page = PAGE.substitute(
        title=_esc(manifest.get("goal") or "spacechain run"),
        disk_script=DISK_SCRIPT,
        script=script,
        script_src=DISK_SCRIPT_SRC + script_src,
        hint=hint,
        status=_esc(status),
        status_class=status if status in ("success", "error") else "",
        model=f"<span>model: {_esc(model)}</span>" if model else "",  # an unknown model is left out
        date=_esc(_date(manifest.get("started_at"))),
        n_results=len(cards),
        n_files=len(list(run.cards())),
        n_calls=len(run.calls),
        answer=f'<p class="answer">{_esc(answer)}</p>' if answer else "",
        cards="\n".join(_card(run, *c, t, n, k) for c, t, n, k in zip(cards, titles, names, copies))
        or "<p>No media files.</p>",
        every=_every_file(run) if len(cards) < len(list(run.cards())) else "",
        timeline=timeline_svg(run.calls) or "<p>No calls.</p>",
        table=_calls_table(run.calls),
    )
    # Text from a Space may hold lone surrogates, which UTF-8 cannot encode: the page is written anyway.
    return write_file(run_dir / "gallery.html", page.encode("utf-8", "replace"))
