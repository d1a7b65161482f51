"""Reading and writing images without losing bit depth, orientation, alpha, colour profile or EXIF.

Images are NumPy arrays of shape (H, W) for gray or (H, W, C) with C in {2, 3, 4} (2 and 4 carry
alpha last), dtype uint8 or uint16. Reading applies EXIF orientation, turns PNG tRNS transparency
into an alpha channel and refuses files above a pixel limit (decompression bombs); HEIC/HEIF
photos (what phones save by default) go through pillow-heif. `read_image_with_metadata` also
returns the file's ICC profile and EXIF (denoiser.metadata), which `write_image` writes
back. Writing goes through a temporary file and a rename, so a half-written file never replaces
a good one; a failure names the user's path, never the temporary file.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import io16
from .files import atomic_write
from .image_errors import ImageReadError, ImageTooLargeError, ImageWriteError
from .metadata import Metadata, of_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".ppm", ".pgm", ".gif")
HEIF_SUFFIXES = (".heic", ".heif", ".hif")  # read and written through pillow-heif
READ_SUFFIXES = IMAGE_SUFFIXES + HEIF_SUFFIXES
READABLE = "JPEG, PNG, HEIC/HEIF, TIFF, WebP, BMP, GIF and PPM/PGM"
# ISO-BMFF brands of HEIF still images (bytes 8-12 of the file, after b"ftyp").
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
DEFAULT_MAX_PIXELS = 50_000_000  # a 50 MP photo; override with DENOISER_MAX_PIXELS or max_pixels=

# The formats a result is offered in (the command line's --format, the app's download): name -> suffix.
OUTPUT_FORMATS = {"png": ".png", "jpeg": ".jpg", "heic": ".heic", "tiff": ".tif", "webp": ".webp"}
SIXTEEN_BIT_FORMATS = ("png", "tiff")  # the others hold 8 bits: 16-bit values are rounded to 8
LOSSY_FORMATS = ("jpeg", "heic", "webp")  # written at a quality (1-100)
DEFAULT_QUALITY = 95
_SUFFIX_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff", ".webp": "webp",
                  ".heic": "heic", ".heif": "heic", ".hif": "heic", ".bmp": "bmp", ".gif": "gif", ".ppm": "ppm",
                  ".pgm": "ppm"}
_PIL_NAME = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "webp": "WEBP", "heic": "HEIF", "bmp": "BMP", "gif": "GIF",
             "ppm": "PPM"}
_NO_ALPHA = ("jpeg", "ppm")
_GRAY_ALPHA_AS_RGBA = ("webp", "heic", "bmp", "gif")  # no gray + alpha mode: written as RGBA



def max_pixels() -> int:
    """The pixel limit: $DENOISER_MAX_PIXELS if set, else DEFAULT_MAX_PIXELS."""
    value = os.environ.get("DENOISER_MAX_PIXELS")
    if value is None:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"DENOISER_MAX_PIXELS must be an integer, got {value!r}") from None
    if limit <= 0:
        raise ValueError(f"DENOISER_MAX_PIXELS must be positive, got {limit}")
    return limit


def check_pixel_limit(width: int, height: int, limit: int | None = None, name: str = "image") -> None:
    """Raise ImageReadError if width x height exceeds the pixel limit."""
    limit = max_pixels() if limit is None else limit
    if width * height > limit:
        raise ImageTooLargeError(name, width * height, limit, (width, height))


def pil_to_array(image: Image.Image, name: str = "image") -> np.ndarray:
    """Convert a PIL image to uint8/uint16 (H, W[, C]) keeping 16-bit depth and alpha: gray (H, W),
    gray+alpha (H, W, 2), RGB (H, W, 3), RGBA (H, W, 4); palette, CMYK and others become RGB(A).
    A PNG's tRNS colour key (gray or RGB) becomes an alpha channel: fully transparent where the
    pixel equals the key, which denoising would otherwise shift off the key and make visible."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF / multi-page TIFF: the first frame is the image
    key = image.info.get("transparency") if image.mode in ("L", "I", "I;16", "RGB") else None
    array = _plain_array(ImageOps.exif_transpose(image), name)
    return array if key is None else _key_to_alpha(array, key)


def _plain_array(image: Image.Image, name: str) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit gray PNG and TIFF
        return np.asarray(image, dtype=np.uint16).copy()
    if mode == "I":  # 32-bit integer: how Pillow opens 16-bit PGM (scaled to 0-65535) and integer TIFF
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
    if mode == "F":
        raise ImageReadError(f"{name}: 32-bit float images are not supported; save as 8 or 16-bit")
    if mode == "1" or mode == "L":
        return np.asarray(image.convert("L")).copy()
    if mode in ("LA", "La"):
        return np.asarray(image.convert("LA")).copy()  # gray + alpha, (H, W, 2)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("PA", "RGBa"):
        image = image.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV
        image = image.convert("RGB")
    return np.asarray(image).copy()


def _key_to_alpha(array: np.ndarray, key) -> np.ndarray:
    """Gray (H, W) + int key -> (H, W, 2); RGB (H, W, 3) + (r, g, b) key -> (H, W, 4)."""
    peak = np.iinfo(array.dtype).max
    if array.ndim == 2 and isinstance(key, int):
        hidden = array == key
    elif array.ndim == 3 and array.shape[2] == 3 and isinstance(key, tuple) and len(key) == 3:
        hidden = (array == np.asarray(key, array.dtype)).all(axis=2)
    else:
        return array  # a key we do not understand: the pixels as they are
    alpha = np.where(hidden, 0, peak).astype(array.dtype)
    return np.dstack([array, alpha])


def _keeps_profile(mode: str) -> bool:
    """False where pil_to_array converts to another colour space, which the ICC profile then misdescribes."""
    return mode not in ("CMYK", "YCbCr", "LAB", "HSV")


def is_heif(path: str | os.PathLike) -> bool:
    """True when the file starts like a HEIC/HEIF image (an ISO-BMFF 'ftyp' box with a HEIF brand)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


@functools.lru_cache(maxsize=1)
def _heif_opener() -> bool:
    """Teach Pillow HEIC/HEIF through pillow-heif, once; False when the package is missing.
    libheif applies the file's rotation and mirroring while decoding (and pillow-heif then marks
    the EXIF orientation as 1), so photos come out upright exactly as other formats do."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def read_image(path: str | os.PathLike, limit: int | None = None) -> np.ndarray:
    """Read an image file as uint8/uint16 (H, W[, C]); errors name the file and the problem.
    Formats: those of READ_SUFFIXES (HEIC/HEIF, 8-bit, through pillow-heif)."""
    return read_image_with_metadata(path, limit)[0]


def read_image_with_metadata(path: str | os.PathLike, limit: int | None = None) -> tuple[np.ndarray, Metadata]:
    """read_image, and the file's format, ICC profile and EXIF (orientation reset to 1) to write back."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: the file is empty (0 bytes)")
    if is_heif(path) and not _heif_opener():
        raise ImageReadError(f"{path}: a HEIC/HEIF photo; reading it needs the pillow-heif package "
                             "(pip install pillow-heif)")
    try:
        with Image.open(path) as image:
            check_pixel_limit(*image.size, limit=limit, name=str(path))
            if io16.is_16bit_colour_png(image):  # Pillow would truncate these to 8 bits
                return io16.read_16bit_colour_png(path, image), of_image(image)
            if io16.is_16bit_colour_tiff(image):
                return io16.read_16bit_colour_tiff(path, image), of_image(image)
            if image.format == "PNG":
                image.load()  # an eXIf chunk may follow the pixels
            metadata = of_image(image, _keeps_profile(image.mode))  # before a TIFF's load() drops the orientation
            image.load()
            return pil_to_array(image, name=str(path)), metadata
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file, or not one this program reads ({READABLE}); "
                             "save it as JPEG or PNG and try again") from None
    except Image.DecompressionBombError as err:  # Pillow's own guard, far above ours: word it as ours
        found = re.search(r"\((\d+) pixels\)", str(err))
        limit = max_pixels() if limit is None else limit
        raise ImageTooLargeError(str(path), int(found.group(1)) if found else limit + 1, limit) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"{path}: the image is truncated or corrupt ({err})") from None


def format_of(path: str | os.PathLike) -> str | None:
    """The format a path's suffix asks for ('png', 'jpeg', 'heic', 'tiff', 'webp', 'bmp', 'gif',
    'ppm'), None for a suffix we cannot write."""
    return _SUFFIX_FORMAT.get(Path(path).suffix.lower())


def choose_format(requested: str, source: str | None) -> str:
    """The name in OUTPUT_FORMATS to write a result in. requested 'same': the source's format
    (format_of its path) where we write it losslessly (PNG, TIFF) or at high quality (JPEG, HEIC,
    WebP), else PNG (for BMP, GIF, PPM: lossless and read everywhere)."""
    if requested == "same":
        return source if source in OUTPUT_FORMATS else "png"
    if requested not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {requested!r}; use same or one of {', '.join(OUTPUT_FORMATS)}")
    return requested


def write_image(path: str | os.PathLike, array: np.ndarray, metadata: Metadata | None = None,
                quality: int = DEFAULT_QUALITY, compress_level: int = 6) -> None:
    """Write uint8/uint16 (H, W[, C]) atomically; the format follows the suffix (format_of).

    metadata: the ICC profile and EXIF to embed (PNG, JPEG, TIFF, WebP, HEIC); None writes none.
    16-bit values stay 16-bit in PNG and TIFF and are rounded to 8 bits elsewhere. JPEG, HEIC and
    WebP are written at `quality` (1-100); PNG at zlib `compress_level` (0-9: 1 is several times
    faster than 6 for a few percent more bytes). Raises ValueError for what cannot be written
    (alpha in a JPEG) before touching the file, ImageWriteError naming `path` when writing fails.
    """
    path = Path(path)
    kind = format_of(path)
    if kind is None:
        raise ValueError(f"{path}: unknown image format {path.suffix!r}; use one of {READ_SUFFIXES}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100, got {quality}")
    if kind == "heic" and not _heif_opener():
        raise ValueError(f"{path}: writing HEIC needs the pillow-heif package (pip install pillow-heif)")
    array = _fit(array, kind, str(path))
    metadata = metadata or Metadata()

    def write(tmp: str) -> None:
        if array.dtype == np.uint16 and array.ndim == 3:  # 16-bit colour or gray+alpha: Pillow cannot
            io16.write_16bit(tmp, array, kind, metadata, compress_level)
            return
        params: dict = {}
        if kind in LOSSY_FORMATS:
            params["quality"] = quality
        if kind == "png":
            params["compress_level"] = compress_level
        if kind in OUTPUT_FORMATS:  # the formats that carry a profile and EXIF
            params |= {k: v for k, v in (("icc_profile", metadata.icc_profile), ("exif", metadata.exif)) if v}
        Image.fromarray(array).save(tmp, format=_PIL_NAME[kind], **params)

    try:
        atomic_write(path, write)
    except OSError as err:
        raise ImageWriteError(_cannot_write(path, err)) from None


def check_writable(path: str | os.PathLike) -> None:
    """Make path's folder and check that a file can be created in it; ImageWriteError naming
    `path` otherwise. For a batch, so that it fails before the work rather than after."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as err:
        raise ImageWriteError(_cannot_write(path, err)) from None


def _cannot_write(path: Path, err: OSError) -> str:
    """Why `path` could not be written, naming it and never the temporary file."""
    for folder in [*reversed(path.parents)]:
        if folder.exists() and not folder.is_dir():
            return f"{path}: cannot write it: {folder} is a file, not a folder"
    reason = (err.strerror or str(err)) if err.filename else str(err)
    return f"{path}: cannot write it ({reason[:1].lower() + reason[1:]})"


def _fit(array: np.ndarray, kind: str, name: str) -> np.ndarray:
    """The array as `kind` can hold it: 8 bits where 16 cannot be stored, RGBA where gray+alpha cannot."""
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{name}: expected a uint8 or uint16 array, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise ValueError(f"{name}: expected an image of shape (H, W) or (H, W, 2-4), got {array.shape}")
    alpha = array.ndim == 3 and array.shape[2] in (2, 4)
    if alpha and kind in _NO_ALPHA:
        raise ValueError(f"{name}: {kind.upper()} cannot store transparency; write PNG (or WebP, HEIC) instead")
    if array.dtype == np.uint16 and kind not in SIXTEEN_BIT_FORMATS:
        array = ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(v * 255 / 65535)
    if array.ndim == 3 and array.shape[2] == 2 and (kind in _GRAY_ALPHA_AS_RGBA or (kind == "tiff" and array.dtype == np.uint16)):
        array = np.concatenate([np.repeat(array[..., :1], 3, axis=2), array[..., 1:]], axis=2)
    return np.ascontiguousarray(array)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside `folder`, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in READ_SUFFIXES and p.is_file() and not p.name.startswith("."))


def to_float(array: np.ndarray) -> np.ndarray:
    """uint8/uint16 -> float32 in [0, 1]; float input is returned as float32 unchanged (not clipped)."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    raise ValueError(f"unsupported image dtype {array.dtype}; use uint8, uint16 or float")


def from_float(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float in [0, 1] -> dtype (uint8/uint16 are clipped and rounded; float passes through)."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8 or dtype == np.uint16:
        peak = np.iinfo(dtype).max
        return np.clip(np.rint(image * peak), 0, peak).astype(dtype)
    return image.astype(dtype, copy=False)
