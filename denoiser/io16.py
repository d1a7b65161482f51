"""16-bit colour files Pillow cannot handle: 16-bit colour and gray + alpha PNG (read through OpenCV,
written by OpenCV or our own PNG encoder) and 16-bit colour TIFF (through tifffile, which ships
with scikit-image), with their colour profile, EXIF orientation and text tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import png
from .image_errors import ImageReadError
from .metadata import Metadata

# EXIF text tags a 16-bit TIFF keeps as baseline TIFF tags: description, make, model, software, date, artist, copyright
_TIFF_TEXT_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)


def write_16bit(tmp: str, array: np.ndarray, kind: str, metadata: Metadata, level: int) -> None:
    if kind == "tiff":
        write_16bit_tiff(tmp, array, metadata)
        return
    chunks = [png.iccp_chunk(metadata.icc_profile)] if metadata.icc_profile else []
    chunks += [png.exif_chunk(metadata.exif)] if metadata.exif else []
    if array.shape[2] == 2:  # gray + alpha (colour type 4): neither Pillow nor OpenCV writes it
        data = png.encode_gray_alpha_16(array, level, chunks)
    else:
        import cv2  # Pillow cannot write 16-bit colour PNG; OpenCV can (it stores BGR order)

        code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(array, code), [cv2.IMWRITE_PNG_COMPRESSION, level])
        if not ok:
            raise ValueError(f"could not encode a {array.shape} 16-bit PNG")
        data = png.insert_after_header(encoded.tobytes(), chunks)
    Path(tmp).write_bytes(data)


def write_16bit_tiff(tmp: str, array: np.ndarray, metadata: Metadata) -> None:
    import tifffile  # ships with scikit-image

    # tifffile writes no EXIF block: the baseline TIFF tags (camera, date, artist...) carry what they can
    tags = metadata.tags()
    text = {k: v for k, v in tags.items() if isinstance(v, str) and k in _TIFF_TEXT_TAGS and v.isascii()}
    software = text.pop(0x0131, False)
    tifffile.imwrite(tmp, array, photometric="rgb", iccprofile=metadata.icc_profile, software=software,
                     metadata=None, extratags=[(k, "s", 0, v, True) for k, v in text.items()])


def is_16bit_colour_png(image: Image.Image) -> bool:
    """PNG header: bit depth 16 with colour type 2 (RGB), 4 (gray + alpha) or 6 (RGBA); Pillow
    reads these as 8-bit (16-bit gray alone, type 0, it reads whole as mode I;16)."""
    if image.format != "PNG":
        return False
    image.fp.seek(24)
    depth, colour_type = image.fp.read(2)
    return depth == 16 and colour_type in (2, 4, 6)


def read_16bit_colour_png(path: Path, image: Image.Image) -> np.ndarray:
    import cv2

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ImageReadError(f"{path}: the 16-bit PNG is truncated or corrupt")
    image.fp.seek(25)
    if image.fp.read(1) == b"\x04":  # gray + alpha, which OpenCV expands to BGRA: keep one gray plane
        array = np.ascontiguousarray(array[..., [0, 3]])
    else:  # a tRNS colour key comes back from OpenCV as a fourth (alpha) channel
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    # the EXIF Pillow already has (an eXIf before the pixels); getexif() would decode the whole image to look further
    orientation = image.getexif().get(0x0112, 1) if "exif" in image.info else 1
    return orient(array, orientation)


def is_16bit_colour_tiff(image: Image.Image) -> bool:
    bits = image.tag_v2.get(258, (8,)) if image.format == "TIFF" else (8,)
    bits = bits if isinstance(bits, tuple) else (bits,)
    return len(bits) >= 3 and max(bits) == 16


def read_16bit_colour_tiff(path: Path, image: Image.Image) -> np.ndarray:
    import tifffile

    array = tifffile.imread(path, key=0)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint16:
        raise ImageReadError(f"{path}: unsupported TIFF layout {array.shape} {array.dtype}")
    return orient(array, image.tag_v2.get(274, 1))


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W, C) array, as ImageOps.exif_transpose does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](array)) if orientation in ops else array
