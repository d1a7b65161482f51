"""Result files: a fresh folder per request, files stamped so no two responses share bytes, expiry.

Why the stamp (the same-image race): gradio's file cache is content-addressed; each output file
goes to <GRADIO_TEMP_DIR>/<sha256 of its bytes>/<name> (gradio 6.31: blocks.py ->
processing_utils.save_file_to_cache), so two visitors who send the same image would get
byte-identical outputs and share ONE cache file. A writer that rewrites that path while the other
download streams it makes the download come up short ("Too little data for declared
Content-Length"; a bare app returning arrays failed 21 of 72 requests, 12 identical ones at a
time). So the app returns only paths of files it wrote itself into a fresh per-request folder,
never arrays, and every file carries its folder (a uuid4) and name where its format keeps a note
the pixels never see: a PNG tEXt chunk, a JPEG comment, a WebP chunk of its own, a HEIC 'free'
box, bytes after a TIFF's image data. tests/test_app_outputs.py checks both.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path

import numpy as np

from denoiser.files import atomic_write_bytes
from denoiser.png import SIGNATURE as _PNG_SIGNATURE
from denoiser.png import chunk as _png_chunk

PNG_TAG_KEYWORD = "denoiser-response"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC of b"IEND"
PREVIEW_SIDE = 2048  # the longest side of the before/after views: a screen's worth, not the whole photo


def stamp_png(path: str | os.PathLike, text: str, keyword: str = PNG_TAG_KEYWORD) -> str:
    """Add a tEXt chunk (keyword, text) just before IEND of the PNG at `path`; returns str(path).

    For files this app has just written and not yet handed out: when the file ends with IEND (as
    Pillow and OpenCV write it) the chunk goes over the last 12 bytes in place, with no rewrite
    of the image data; otherwise the chunks are walked to IEND (anything after it is dropped)
    and the file is replaced atomically."""
    chunk = _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
    path = Path(path)
    with open(path, "r+b") as f:
        if f.read(8) != _PNG_SIGNATURE:
            raise ValueError(f"{path.name}: not a PNG file")
        size = f.seek(0, os.SEEK_END)
        if size >= 8 + 12:
            f.seek(size - 12)
            if f.read(12) == _PNG_IEND:
                f.seek(size - 12)
                f.write(chunk + _PNG_IEND)
                return str(path)
        f.seek(8)
        data = f.read()
    offset = 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == b"IEND":
            break
        offset += 12 + length
    else:
        raise ValueError(f"{path.name}: PNG without an IEND chunk")
    atomic_write_bytes(path, _PNG_SIGNATURE + data[:offset] + chunk + _PNG_IEND)
    return str(path)


def unique_png(path: str | os.PathLike) -> str:
    """stamp_png with '<request folder>/<file name>' (the folder name is a fresh uuid4)."""
    path = Path(path)
    return stamp_png(path, f"{path.parent.name}/{path.name}")


def unique_file(path: str | os.PathLike) -> str:
    """Stamp a file this app has just written with '<request folder>/<file name>', in the place its
    format keeps a note its readers skip; returns str(path)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return unique_png(path)
    note = f"{PNG_TAG_KEYWORD} {path.parent.name}/{path.name}".encode("latin-1")
    data = path.read_bytes()
    if suffix in (".jpg", ".jpeg"):
        data = _jpeg_with_comment(data, note)
    elif suffix == ".webp":  # a chunk of our own at the end of the RIFF, whose size grows by it
        body = b"DNSR" + struct.pack("<I", len(note)) + note + b"\0" * (len(note) % 2)
        data = data[:4] + struct.pack("<I", len(data) - 8 + len(body)) + data[8:] + body
    elif suffix in (".heic", ".heif", ".hif"):  # ISO-BMFF: a 'free' box is skipped by every reader
        data += struct.pack(">I", 8 + len(note)) + b"free" + note
    elif suffix in (".tif", ".tiff"):  # TIFF readers follow offsets: bytes after the image are never read
        data += note
    else:
        raise ValueError(f"{path.name}: no stamp for this format")
    atomic_write_bytes(path, data)
    return str(path)


def _jpeg_with_comment(data: bytes, note: bytes) -> bytes:
    """The JPEG with a COM segment after its APPn segments (JFIF, EXIF, ICC stay first)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    at = 2
    while data[at] == 0xFF and 0xE0 <= data[at + 1] <= 0xEF:
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return data[:at] + b"\xff\xfe" + struct.pack(">H", 2 + len(note)) + note + data[at:]


def save_png(array: np.ndarray, path: Path) -> str:
    """A fast lossless 8-bit PNG for the screen (full resolution), unique in its bytes."""
    from PIL import Image

    from .imageops import to_display

    array = to_display(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    Image.fromarray(array).save(path, format="PNG", compress_level=1)
    return unique_png(path)


def file_stem(path: str | os.PathLike | None, default: str = "photo") -> str:
    """The upload's name without folder and suffix, safe for a file name (at most 80 characters)."""
    stem = Path(path).stem if path else default
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or default


def save_preview(array: np.ndarray, path: Path, side: int = PREVIEW_SIDE) -> str:
    """An 8-bit screen view at most `side` pixels long, unique in its bytes: a JPEG (quality 92,
    4:4:4, tenths of a second for a 12 MP photo where a full-size PNG takes seconds), or a PNG
    when the image has alpha. `path`'s suffix is replaced. Area-averaged, as a viewer shrinks it."""
    import cv2
    from PIL import Image

    from .imageops import to_display

    array = to_display(array)
    height, width = array.shape[:2]
    if max(height, width) > side:
        scale = side / max(height, width)
        array = cv2.resize(array, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[2] in (2, 4):
        path = path.with_suffix(".png")
        Image.fromarray(array).save(path, format="PNG", compress_level=1)
    else:
        path = path.with_suffix(".jpg")
        Image.fromarray(array).save(path, format="JPEG", quality=92, subsampling=0)
    return unique_file(path)


def result_name(source: str | os.PathLike | None, model: str, strength: float, sigma: float | None = None,
                suffix: str = ".png") -> str:
    """The download's name, saying what made it: 'Dog-photo-s1.00.png', 'Dog-gaussian-sigma25.0-s1.00.jpg'."""
    parts = [file_stem(source), file_stem(model, "model")]
    if sigma is not None:
        parts.append(f"sigma{sigma:.1f}")
    parts.append(f"s{strength:.2f}")
    return "-".join(parts) + suffix


class OutputDirs:
    """A fresh folder per request (no two responses share a file name), pruned by age on each new
    request and by a background thread every `interval` seconds. The root goes when the object is
    collected or the process exits."""

    def __init__(self, ttl: int, interval: int | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="denoiser-app-"))
        self.ttl = ttl
        self.interval = interval or max(1, min(1800, ttl // 2))
        self._pruner: threading.Thread | None = None
        self._lock = threading.Lock()
        weakref.finalize(self, shutil.rmtree, str(self.root), True)

    def prune(self) -> None:
        """Delete request folders older than the TTL."""
        now = time.time()
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return
        for old in entries:
            try:
                if now - old.stat().st_mtime > self.ttl:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass

    def _start_pruner(self) -> None:
        with self._lock:
            if self._pruner is not None:
                return
            ref, interval = weakref.ref(self), self.interval

            def loop() -> None:  # holds only a weak reference, so the object can still be collected
                while True:
                    time.sleep(interval)
                    dirs = ref()
                    if dirs is None or not dirs.root.is_dir():
                        return
                    dirs.prune()
                    del dirs

            self._pruner = threading.Thread(target=loop, name="denoiser-output-pruner", daemon=True)
            self._pruner.start()

    def fresh(self) -> Path:
        """A new empty folder for one response."""
        self._start_pruner()
        self.prune()
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder
