"""Reading and writing images without losing bit depth, orientation or alpha.

Images are NumPy arrays of shape (H, W) for gray or (H, W, C) with C in {3, 4}, dtype uint8 or
uint16. Reading applies EXIF orientation and refuses files above a pixel limit (decompression
bombs); HEIC/HEIF photos (what phones save by default) are read through pillow-heif. Writing
goes through a temporary file and a rename, so a half-written file never replaces a good one.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .files import atomic_write

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".ppm", ".pgm", ".gif")
HEIF_SUFFIXES = (".heic", ".heif", ".hif")  # read only (through pillow-heif), never written
READ_SUFFIXES = IMAGE_SUFFIXES + HEIF_SUFFIXES
# ISO-BMFF brands of HEIF still images (bytes 8-12 of the file, after b"ftyp").
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
DEFAULT_MAX_PIXELS = 50_000_000  # a 50 MP photo; override with DENOISER_MAX_PIXELS or max_pixels=


class ImageReadError(ValueError):
    """A file that is not a readable image, or one we refuse to read; the message names the file."""


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
        raise ImageReadError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of {limit:,} pixels "
            f"({limit / 1e6:g} megapixels; set DENOISER_MAX_PIXELS to raise it)"
        )


def pil_to_array(image: Image.Image, name: str = "image") -> np.ndarray:
    """Convert a PIL image to uint8/uint16 (H, W[, C]) keeping 16-bit depth and alpha: gray (H, W),
    gray+alpha (H, W, 2), RGB (H, W, 3), RGBA (H, W, 4); palette, CMYK and others become RGB(A)."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF / multi-page TIFF: the first frame is the image
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.uint16).copy()
    if mode == "I":  # 32-bit integer, as Pillow opens most 16-bit grayscale PNGs
        array = np.asarray(image)
        return np.clip(array, 0, 65535).astype(np.uint16)
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
    Formats: those of IMAGE_SUFFIXES and HEIC/HEIF (8-bit, through pillow-heif)."""
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
            if _is_16bit_colour_png(image):  # Pillow would truncate these to 8 bits
                return _read_16bit_colour_png(path, image)
            if _is_16bit_colour_tiff(image):
                return _read_16bit_colour_tiff(path, image)
            image.load()
            return pil_to_array(image, name=str(path))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"{path}: refused as a possible decompression bomb ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"{path}: the image is truncated or corrupt ({err})") from None


def write_image(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write uint8/uint16 (H, W[, C]) atomically; the format follows the suffix.

    16-bit data needs PNG or TIFF. Pillow cannot write 16-bit colour, so that goes through
    OpenCV for PNG and tifffile for TIFF; 16-bit gray+alpha is stored as 16-bit RGBA.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: unknown image format {suffix!r}; use one of {IMAGE_SUFFIXES}")
    image = _array_to_pil(array, suffix, str(path))

    def write(tmp: str) -> None:
        if isinstance(image, np.ndarray):  # 16-bit colour: Pillow cannot write it, tifffile/PNG can
            _write_16bit_colour(tmp, image, suffix)
        else:
            params = {"quality": 95} if suffix in (".jpg", ".jpeg", ".webp") else {}
            image.save(tmp, **params)

    atomic_write(path, write)


def _array_to_pil(array: np.ndarray, suffix: str, name: str) -> Image.Image | np.ndarray:
    if array.dtype == np.uint8:
        if suffix in (".jpg", ".jpeg") and array.ndim == 3 and array.shape[2] == 4:
            raise ValueError(f"{name}: JPEG cannot store alpha; write PNG instead")
        return Image.fromarray(array)
    if array.dtype == np.uint16:
        if suffix not in (".png", ".tif", ".tiff"):
            raise ValueError(f"{name}: 16-bit images need .png or .tif, not {suffix}")
        if array.ndim == 2:
            return Image.fromarray(array)  # mode I;16
        if array.ndim == 3 and array.shape[2] == 2:  # gray+alpha: no 16-bit LA writer, use RGBA
            array = np.concatenate([np.repeat(array[..., :1], 3, axis=2), array[..., 1:]], axis=2)
        return array
    raise ValueError(f"{name}: expected a uint8 or uint16 array, got {array.dtype}")


def _write_16bit_colour(tmp: str, array: np.ndarray, suffix: str) -> None:
    if suffix in (".tif", ".tiff"):
        import tifffile  # ships with scikit-image

        tifffile.imwrite(tmp, array)
    else:
        import cv2  # Pillow cannot write 16-bit colour PNG; OpenCV can (it stores BGR order)

        code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(array), code))
        if not ok:
            raise ValueError(f"could not encode a {array.shape} 16-bit PNG")
        Path(tmp).write_bytes(encoded.tobytes())


def _is_16bit_colour_png(image: Image.Image) -> bool:
    """PNG header: bit depth 16 with colour type 2 (RGB) or 6 (RGBA)."""
    if image.format != "PNG":
        return False
    image.fp.seek(24)
    depth, colour_type = image.fp.read(2)
    return depth == 16 and colour_type in (2, 6)


def _read_16bit_colour_png(path: Path, image: Image.Image) -> np.ndarray:
    import cv2

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ImageReadError(f"{path}: the 16-bit PNG is truncated or corrupt")
    array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    orientation = image.getexif().get(0x0112, 1)
    return _orient(array, orientation)


def _is_16bit_colour_tiff(image: Image.Image) -> bool:
    bits = image.tag_v2.get(258, (8,)) if image.format == "TIFF" else (8,)
    bits = bits if isinstance(bits, tuple) else (bits,)
    return len(bits) >= 3 and max(bits) == 16


def _read_16bit_colour_tiff(path: Path, image: Image.Image) -> np.ndarray:
    import tifffile

    array = tifffile.imread(path, key=0)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint16:
        raise ImageReadError(f"{path}: unsupported TIFF layout {array.shape} {array.dtype}")
    return _orient(array, image.tag_v2.get(274, 1))


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
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
