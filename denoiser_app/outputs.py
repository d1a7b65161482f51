"""Result files: a fresh folder per request, PNGs stamped so no two responses share bytes, expiry.

Why the stamp (the same-image race): gradio's file cache is content-addressed; each output file
goes to <GRADIO_TEMP_DIR>/<sha256 of its bytes>/<name> (gradio 6.31: blocks.py ->
processing_utils.save_file_to_cache), so two visitors who send the same image would get
byte-identical outputs and share ONE cache file. A writer that rewrites that path while the other
download streams it makes the download come up short ("Too little data for declared
Content-Length"; a bare app returning arrays failed 21 of 72 requests, 12 identical ones at a
time). So the app returns only paths of files it wrote itself into a fresh per-request folder,
never arrays, and every PNG gets a tEXt chunk naming its folder (a uuid4) and file: pixels are
untouched, bytes are unique. tests/test_app_outputs.py checks both.
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
import zlib
from pathlib import Path

import numpy as np

from denoiser.files import atomic_write_bytes

PNG_TAG_KEYWORD = "denoiser-response"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC of b"IEND"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


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


def save_png(array: np.ndarray, path: Path) -> str:
    """A fast lossless 8-bit PNG for the screen (full resolution), unique in its bytes."""
    from PIL import Image

    from denoiser.imageops import to_display

    array = to_display(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    Image.fromarray(array).save(path, format="PNG", compress_level=1)
    return unique_png(path)


def file_stem(path: str | os.PathLike | None, default: str = "photo") -> str:
    """The upload's name without folder and suffix, safe for a file name (at most 80 characters)."""
    stem = Path(path).stem if path else default
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or default


def result_name(source: str | os.PathLike | None, model: str, strength: float, sigma: float | None = None) -> str:
    """The download's name, saying what made it: 'Dog-photo-s1.00.png', 'Dog-gaussian-sigma25.0-s1.00.png'."""
    parts = [file_stem(source), file_stem(model, "model")]
    if sigma is not None:
        parts.append(f"sigma{sigma:.1f}")
    parts.append(f"s{strength:.2f}")
    return "-".join(parts) + ".png"


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
