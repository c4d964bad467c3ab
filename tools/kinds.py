"""What a file really is, read from its first bytes (and, for text formats, its name): the check that
keeps an HTML error page from travelling on as an "image", and an .mp3 from reaching an image input."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit

__all__ = ["KINDS", "check_kind", "expected_media", "kind_of_name", "media_of", "sniff", "sniff_bytes"]

# kind → media family. Families are what Gradio components take: image, audio, video, model3d.
KINDS: dict[str, str] = {
    "png": "image",
    "jpeg": "image",
    "webp": "image",
    "gif": "image",
    "bmp": "image",
    "tiff": "image",
    "avif": "image",
    "svg": "image",
    "wav": "audio",
    "mp3": "audio",
    "ogg": "audio",
    "flac": "audio",
    "m4a": "audio",
    "aac": "audio",
    "mp4": "video",
    "webm": "video",
    "mov": "video",
    "mkv": "video",
    "avi": "video",
    "glb": "model3d",
    "gltf": "model3d",
    "obj": "model3d",
    "stl": "model3d",
    "ply-splat": "model3d",
    "ply-points": "model3d",
    "ply-mesh": "model3d",
    "splat": "model3d",
    "ksplat": "model3d",
    "spz": "model3d",
    "html": "text",
    "json": "text",
    "text": "text",
    "pdf": "document",
    "zip": "archive",
}
_EXTS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".gif": "gif",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".avif": "avif",
    ".svg": "svg",
    ".wav": "wav",
    ".mp3": "mp3",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".flac": "flac",
    ".m4a": "m4a",
    ".aac": "aac",
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".webm": "webm",
    ".mov": "mov",
    ".mkv": "mkv",
    ".avi": "avi",
    ".glb": "glb",
    ".gltf": "gltf",
    ".obj": "obj",
    ".stl": "stl",
    ".ply": "ply-points",
    ".splat": "splat",
    ".ksplat": "ksplat",
    ".spz": "spz",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".txt": "text",
    ".md": "text",
    ".csv": "text",
    ".py": "text",
    ".pdf": "pdf",
    ".zip": "zip",
}
# Fields only a 3D Gaussian splat's PLY header has (point clouds have x, y, z and maybe colours).
_SPLAT_FIELDS = (b"f_dc_0", b"opacity", b"scale_0", b"rot_0")
_OBJ_LINE = re.compile(rb"^(v|vn|vt|f|o|g|mtllib|usemtl|#)\s", re.M)
HEAD_BYTES = 4096


# What a Gradio output component's file may be (the first family names it in messages).
_COMPONENT_MEDIA = {
    "Image": ("image",),
    "Audio": ("audio", "video"),
    "Video": ("video",),
    "Model3d": ("model3d",),
    "Gallery": ("image", "video"),
}


def expected_media(component: str) -> tuple[str, ...] | None:
    return _COMPONENT_MEDIA.get(component)


def describe(kind: str) -> str:
    names = {"html": "an HTML page", "json": "JSON", "text": "plain text", "svg": "an SVG drawing"}
    article = "an" if kind[:1].upper() in "AEFHILMNORSX" else "a"  # as the letters are said: an MP3, a PNG
    return names.get(kind, f"{article} {kind.upper()} file")


def media_phrase(media: str) -> str:
    """A medium as a noun with its article: "an image", "a 3D model"."""
    return {"image": "an image", "audio": "audio", "video": "a video", "model3d": "a 3D model"}.get(media, media)


def check_kind(
    path: str | os.PathLike, expected: tuple[str, ...] | None, source: str = "the Space"
) -> tuple[str, str | None]:
    """(the file's kind, what it is when its bytes contradict `expected` — "an HTML page that `source`
    returned in place of an image" — or None)."""
    kind = sniff(path)
    if not expected or kind == "unknown" or media_of(kind) in expected:
        return kind, None
    return kind, f"{describe(kind)} that {source} returned in place of {media_phrase(expected[0])}"


def kind_of_name(name: str) -> str | None:
    """The kind a file name or URL claims by its extension (None when it claims none we know)."""
    path = urlsplit(name).path if name.startswith(("http://", "https://")) else name
    return _EXTS.get(os.path.splitext(unquote(path))[1].lower())


def media_of(kind: str | None) -> str | None:
    return KINDS.get(kind or "")


def sniff(path: str | os.PathLike) -> str:
    """The kind of a local file from its bytes ("unknown" when nothing matches)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    return sniff_bytes(head, os.fspath(path))


def sniff_bytes(head: bytes, name: str = "") -> str:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM") and len(head) > 14 and head[6:10] == b"\0\0\0\0":
        return "bmp"
    if head.startswith((b"II*\0", b"MM\0*")):
        return "tiff"
    if head.startswith(b"glTF"):
        return "glb"
    if head.startswith(b"ply"):
        header = head.split(b"end_header", 1)[0]
        if all(f in header for f in _SPLAT_FIELDS):
            return "ply-splat"
        return "ply-mesh" if b"element face" in header and b"element face 0" not in header else "ply-points"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"M4A ", b"M4B "):
            return "m4a"
        return "mov" if brand == b"qt  " else "mp4"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "mkv" if b"matroska" in head[:64] else "webm"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"SPZ") or head[:4] == b"NGSP":
        return "spz"
    return _sniff_text(head, name)


def _sniff_text(head: bytes, name: str) -> str:
    claimed = kind_of_name(name) if name else None
    if claimed in ("splat", "ksplat", "spz", "stl"):
        return claimed  # binary formats without a signature: trust the name
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    low = text[:512].lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in low[:256]:
        return "html"
    if low.startswith(b"<svg") or (low.startswith(b"<?xml") and b"<svg" in low):
        return "svg"
    if low.startswith(b"solid ") and claimed == "stl":
        return "stl"
    if text.startswith((b"{", b"[")):
        return "gltf" if claimed == "gltf" else "json"
    if _OBJ_LINE.search(head) and claimed in (None, "obj"):
        return "obj"
    try:
        (head if len(head) < HEAD_BYTES else head[:-4]).decode("utf-8")  # a character cut at the end
        return "text" if head else "unknown"
    except UnicodeDecodeError:
        return claimed or "unknown"
