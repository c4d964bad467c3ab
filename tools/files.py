"""File inputs (local path, URL, FileData → an uploaded FileData) and file outputs (every FileData
in a result, however nested → a local path under the caller's output folder)."""

from __future__ import annotations

import atexit
import errno
import hashlib
import os
import re
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, unquote, urlsplit

from .errors import BadAnswer, TooLarge, UploadRefused
from .http import LIMIT_ENV
from .kinds import check_kind, expected_media
from .nested import FILE_META, KEEP, is_filedata, is_url, transform
from .schema import VIDEO_EXTS, Param

__all__ = [
    "FileIO",
    "FileRecord",
    "content_name",
    "is_local_file",
    "place",
    "safe_name",
    "sha256_file",
]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_name(name: str, default: str = "file") -> str:
    """A plain file name: no folder, no leading dot (never a hidden or temp name of ours), ≤ 80 chars."""
    name = _SAFE.sub("_", os.path.basename(unquote(name or ""))).strip("._")
    return name[:80].rstrip("._") or default


def holds(path: Path, digest: str) -> bool:
    """`path` is a regular file (not a link) with this content."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode) and sha256_file(path) == digest
    except OSError:
        return False


def own_dir(folder: Path) -> Path:
    """Create `folder` if needed; refuse one that is a symbolic link (writes would land elsewhere)."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink():
        raise UploadRefused(
            f"{folder} is a symbolic link; spacechain does not write through links in an "
            "output folder: remove it or choose another output folder."
        )
    return folder


def content_name(stem: str, ext: str, digest: str) -> str:
    """`<stem>-<sha16><ext>`: 64 bits of the content hash, so names of different files rarely meet
    (and `place` never lets one replace another when they do)."""
    return f"{stem}-{digest[:16]}{ext}"


def place(tmp: Path, folder: Path, name: str, digest: str) -> Path:
    """Give a complete temp file in `folder` the name `name`, never over another file: the same content
    already there is reused, a different file (or a link) makes it take `-2`, `-3`… before the extension.
    A hard link claims a name atomically, so parallel writers never see a half-written file."""
    base, ext = os.path.splitext(name)
    try:
        for n in range(1, 1000):
            final = folder / (name if n == 1 else f"{base}-{n}{ext}")
            try:
                os.link(tmp, final)
            except FileExistsError:
                if not holds(final, digest):
                    continue
            except OSError:  # no hard links here: claim the name with an exclusive create, then fill it
                try:
                    os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)))
                except FileExistsError:
                    if not holds(final, digest):
                        continue
                else:
                    os.replace(tmp, final)
            return final
        raise FileExistsError(errno.EEXIST, "no free file name", str(folder / name))
    finally:
        tmp.unlink(missing_ok=True)  # linked, moved, or not needed: never left behind


@dataclass
class FileRecord:
    """What a call did with one file, for the call record (never put in the value itself)."""

    local: str
    sha256: str
    remote: str = ""  # server path after upload, or the URL it was downloaded from
    size: int = 0
    direction: str = "in"
    kind: str | None = None  # what the bytes are (tools.kinds), for outputs
    problem: str | None = None  # bytes that contradict the output's component (an HTML page as an image)


@dataclass
class FileIO:
    """Uploads and downloads for one Space (one API root)."""

    http: Any  # tools.http.Http
    api_root: str  # e.g. http://host/gradio_api
    out_dir: Path
    guard: Callable[[str], None] | None = None  # raises UploadRefused for paths the caller may not send
    max_file_size: int | None = None
    records: list[FileRecord] = field(default_factory=list)
    uploaded: dict[str, dict] = field(default_factory=dict)  # sha256 → FileData already on this server
    server_paths: set[str] = field(default_factory=set)
    # Outputs whose bytes contradict their component (path → what they are), shared by the client: never
    # uploaded.
    suspect: dict[str, str] = field(default_factory=dict)
    space: str = ""  # the Space's label, to say which one returned a file that is not what it should be
    # What this call downloaded so far (a FileIO serves one call), against the http's Limits.
    _got_bytes: int = 0
    _got_files: int = 0

    # ---------- inputs ----------
    def check_local(self, params: list[Param], given: dict[str, Any]) -> None:
        """Run the guard on every local file among the given inputs, before anything (a cache hit
        included) could answer from that file's content."""
        if not self.guard:
            return
        by_name = {p.name: p for p in params}
        for name, value in given.items():
            if by_name[name].takes_files and value is not None:
                for path in self._local_paths(value):
                    self.guard(str(Path(os.path.expanduser(path)).resolve()))

    def _local_paths(self, value: Any) -> list[str]:
        if is_filedata(value):
            value = value["path"]
        if isinstance(value, str):
            return [value] if not is_url(value) and value not in self.server_paths and is_local_file(value) else []
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            return [p for v in value for p in self._local_paths(v)]
        return []

    def shape_input(self, param: Param, value: Any) -> Any:
        """Turn what the caller gave for a file parameter into what the schema asks for."""
        shape = param.file_shape
        if shape == "single":
            return self.to_filedata(value)
        if shape == "list":
            return [self.to_filedata(v) for v in _as_list(value)]
        if shape == "gallery":
            return [self._gallery_item(v) for v in _as_list(value)]
        return self._walk_nested(value)

    def _gallery_item(self, item: Any) -> dict:
        if isinstance(item, dict) and ("image" in item or "video" in item):
            key = "video" if "video" in item else "image"
            return {**item, key: self.to_filedata(item[key]), "caption": item.get("caption")}
        if isinstance(item, (list, tuple)) and len(item) == 2:  # (file, caption), as gradio_client takes
            item, caption = item
        else:
            caption = None
        fd = self.to_filedata(item)
        key = "video" if str(fd.get("orig_name", "")).lower().endswith(VIDEO_EXTS) else "image"
        return {key: fd, "caption": caption}

    def _walk_nested(self, value: Any) -> Any:
        def visit(v: Any) -> Any:
            if is_filedata(v) or (isinstance(v, str) and (is_url(v) or is_local_file(v))):
                return self.to_filedata(v)
            return KEEP

        return transform(value, visit)

    def to_filedata(self, value: Any) -> dict:
        if isinstance(value, dict) and isinstance(value.get("path"), str) and not is_filedata(value):
            # {"path": ...}: how agents.md writes a file reference, and how models copy it.
            value = {**value, "meta": FILE_META}
        if is_filedata(value):
            path = value["path"]
            if is_url(path):
                return self.upload(self._fetch(path), orig_name=value.get("orig_name"), guarded=False)
            if path not in self.server_paths and is_local_file(path):
                return self.upload(path, orig_name=value.get("orig_name"))
            # A server-side path (uploaded earlier, or output of this same app): pass unchanged.
            return {**value, "meta": FILE_META}
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            raise UploadRefused(
                f"A file input needs a local path, an http(s) URL or a FileData dict; got {type(value).__name__}."
            )
        if is_url(value):
            return self.upload(self._fetch(value), guarded=False)
        return self.upload(value)

    def upload(self, path: str, orig_name: str | None = None, guarded: bool = True) -> dict:
        """Upload a local file. `guarded=False` only for a URL's content this call just fetched
        (without a token, so nothing private): the guard is for files already on this machine."""
        if not is_local_file(path):
            raise UploadRefused(f"File {path[:200]} does not exist; give the path of an existing file.")
        p = Path(os.path.expanduser(path))
        if self.guard and guarded:
            self.guard(str(p.resolve()))
        if str(p.resolve()) in self.suspect:
            raise UploadRefused(
                f"Refused to upload {p.name}: it is {self.suspect[str(p.resolve())]}; it is not passed on to "
                "another Space."
            )
        size = p.stat().st_size
        if self.max_file_size and size > self.max_file_size:
            raise UploadRefused(f"File {p.name} is {size} bytes; this Space accepts at most {self.max_file_size}.")
        digest = sha256_file(p)
        name = orig_name or p.name
        if digest not in self.uploaded:
            with open(p, "rb") as fh:
                resp = self.http.request(
                    "POST",
                    f"{self.api_root}/upload",
                    what=f"Uploading {p.name}",
                    files=[("files", (name, fh))],
                    retry_on=(429, 502, 503, 504),
                )
            try:
                paths = resp.json()
            except (ValueError, RecursionError):
                paths = None
            if (
                not isinstance(paths, list)
                or not paths
                or not isinstance(paths[0], str)
                or not paths[0]
                or len(paths[0]) > 4096
            ):
                raise BadAnswer(
                    f"Uploading {p.name}: the Space answered {_shape(paths)} instead of a list of "
                    "server paths; it did not take the file: retry or pick another Space."
                )
            self.uploaded[digest] = {"path": paths[0], "meta": FILE_META, "orig_name": name}
            self.server_paths.add(paths[0])
        self.records.append(
            FileRecord(local=str(p), sha256=digest, remote=self.uploaded[digest]["path"], size=size, direction="in")
        )
        return dict(self.uploaded[digest])

    def _fetch(self, url: str) -> str:
        """Download a URL input so it can be uploaded here. Never with the token: the URL comes from
        the caller or from an earlier output, and may redirect anywhere (even to the Hub). Named by
        content, so parallel calls fetching different files of the same name never collide."""
        stem, ext = os.path.splitext(safe_name(urlsplit(url).path, "download"))
        folder = own_dir(self.out_dir / "inputs")
        tmp = self._download(url, folder / f".partial-{uuid.uuid4().hex}", what=f"Downloading input {url}", token=False)
        digest = sha256_file(tmp)
        return str(place(tmp, folder, content_name(stem, ext, digest), digest))

    # ---------- outputs ----------
    def localise(self, value: Any, endpoint: str, returns: tuple = ()) -> Any:
        """Replace every FileData in an output by the local path of its downloaded copy. With the
        endpoint's `returns`, each file's bytes are checked against its output's component: one that
        contradicts it comes back as {"path", "warning"} and is never uploaded to another Space."""
        found: list[int] = []
        transform(value, lambda v: found.append(1) if is_filedata(v) else KEEP)
        limit = self.http.limits.max_files
        if self._got_files + len(found) > limit:  # refused before the first download, not after 256
            raise TooLarge(
                f"Downloading outputs: the result names {len(found)} files, more than the {limit} one "
                f"call may download; set {LIMIT_ENV['max_files']} higher if that is expected."
            )
        if isinstance(value, list) and len(value) == len(returns):
            return [self._localise_one(v, endpoint, expected_media(r.component)) for v, r in zip(value, returns)]
        return self._localise_one(value, endpoint, None)

    def _localise_one(self, value: Any, endpoint: str, expected: tuple[str, ...] | None) -> Any:
        return transform(value, lambda v: self._download_output(v, endpoint, expected) if is_filedata(v) else KEEP)

    def _download_output(self, fd: dict, endpoint: str, expected: tuple[str, ...] | None = None) -> Any:
        path = fd.get("path") or ""
        url = fd.get("url") or ""
        if is_url(path):
            src = path
        elif fd.get("is_stream") and is_url(url):
            src = url
        else:
            # Build from our own base, like gradio_client: `url` depends on proxy headers and was wrong
            # in older versions.
            src = f"{self.api_root}/file={quote(path, safe='/')}"
        # The token only for the Space's own files: an output can name any URL, the Hub's included.
        own = src.startswith(self.api_root + "/")
        orig = safe_name(fd.get("orig_name") or urlsplit(path).path or "output")
        stem, ext = os.path.splitext(orig)
        tmp = self.out_dir / f".partial-{uuid.uuid4().hex}"
        self._download(src, tmp, what=f"Downloading output {orig}", token=own)
        digest = sha256_file(tmp)
        final = place(tmp, self.out_dir, content_name(f"{safe_name(endpoint)}-{stem}", ext, digest), digest)
        kind, problem = check_kind(final, expected, f"{self.space} /{endpoint}" if self.space else "the Space")
        self.records.append(
            FileRecord(
                local=str(final),
                sha256=digest,
                remote=src,
                size=final.stat().st_size,
                direction="out",
                kind=kind,
                problem=problem,
            )
        )
        if problem:
            self.suspect[str(final.resolve())] = problem
            return {
                "path": str(final),
                "warning": f"this file is {problem}; do not pass it on: call it again or try another Space",
            }
        return str(final)

    def _download(self, url: str, dest: Path, what: str, token: bool) -> Path:
        """Download to a temp name (the caller renames it into place), within this call's caps on files
        and bytes; the temp file is removed on any failure, a cancel and interpreter exit included."""
        limits = self.http.limits
        if self._got_files >= limits.max_files:
            raise TooLarge(
                f"{what}: this call already downloaded {self._got_files} files, the most one call may; "
                f"set {LIMIT_ENV['max_files']} higher if that is expected."
            )
        left = limits.max_call_bytes - self._got_bytes
        if left < limits.max_file_bytes:
            cap, limit = left, f"the limit for all of one call's downloads ({LIMIT_ENV['max_call_bytes']})"
        else:
            cap, limit = limits.max_file_bytes, f"the limit for one file ({LIMIT_ENV['max_file_bytes']})"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if len(_PARTIALS) > 512:  # renamed into place since: forget them
            _PARTIALS.difference_update([q for q in list(_PARTIALS) if not q.exists()])
        _PARTIALS.add(dest)
        self._got_files += 1
        try:
            self._got_bytes += self.http.download(url, dest, what=what, token=token, max_bytes=cap, limit=limit)
        except BaseException:
            dest.unlink(missing_ok=True)  # no half file that could pass for a result
            _PARTIALS.discard(dest)
            raise
        return dest


_PARTIALS: set[Path] = set()  # temp files being written or not yet renamed into place


@atexit.register
def _remove_partials() -> None:
    # A job's thread is a daemon: at exit it dies mid-download and cannot clean up after itself.
    for path in list(_PARTIALS):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _shape(value: Any) -> str:
    """What a malformed answer was, for a one-line error."""
    if value is None:
        return "nothing usable"
    if isinstance(value, list):
        return "an empty list" if not value else f"a list of {type(value[0]).__name__}"
    return f"a {type(value).__name__}"


def is_local_file(path: str) -> bool:
    """os.path.isfile that also says False for unusable paths (too long, ~unknownuser)."""
    try:
        return os.path.isfile(os.path.expanduser(path))
    except (OSError, RuntimeError, ValueError):
        return False


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
