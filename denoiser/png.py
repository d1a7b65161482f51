"""PNG pieces that Pillow and OpenCV do not write for us: chunks added to an encoded PNG (the
colour profile and EXIF of a 16-bit colour PNG, which OpenCV encodes without them, and the app's
response stamp) and 16-bit gray + alpha (colour type 4), which neither library writes."""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEADER_END = len(SIGNATURE) + 8 + 13 + 4  # IHDR is always the first chunk: length, type, 13 bytes, CRC


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type + data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def iccp_chunk(profile: bytes) -> bytes:
    """iCCP holding an ICC profile, zlib-compressed (a reader gets the same bytes back)."""
    return chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(profile))


def exif_chunk(exif: bytes) -> bytes:
    """eXIf from EXIF as Pillow writes it (with or without the JPEG-style 'Exif\\0\\0' prefix)."""
    return chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)


def insert_after_header(png: bytes, chunks: list[bytes]) -> bytes:
    """The PNG with `chunks` placed right after IHDR, where iCCP and eXIf belong (before IDAT)."""
    if not png.startswith(SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    return png[:_HEADER_END] + b"".join(chunks) + png[_HEADER_END:]


def encode_gray_alpha_16(array: np.ndarray, level: int = 6, chunks: list[bytes] = ()) -> bytes:
    """A 16-bit gray + alpha PNG (colour type 4) from uint16 (H, W, 2), with `chunks` before IDAT."""
    if array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] != 2:
        raise ValueError(f"expected uint16 (H, W, 2), got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    rows = np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(height, width * 4)
    filtered = rows.copy()
    filtered[:, 4:] -= rows[:, :-4]  # filter 1 (Sub): each byte minus the same byte of the pixel before
    data = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0)
    return (SIGNATURE + chunk(b"IHDR", header) + b"".join(chunks)
            + chunk(b"IDAT", zlib.compress(data.tobytes(), level)) + chunk(b"IEND", b""))
