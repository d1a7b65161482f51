"""What a person uploads, read and checked: a clear gr.Error that names the file (never its server path)
and says what to do, for a missing, unreadable or oversized photo, a reference that does not match it, or
a setting that is not a number."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoiser.io import ImageReadError, ImageTooLargeError, read_image_with_metadata

from .errors import fail
from .imageops import describe, size_text, split_alpha


def load_image_with_metadata(path: str | None, what: str = "a photo", limit: int | None = None):
    """denoiser.io.read_image_with_metadata of an upload (limit: pixels, None: $DENOISER_MAX_PIXELS);
    a problem is a gr.Error that names the file, not its server path, and says what to do."""
    if path is None or str(path) == "":
        raise fail(f"Please upload {what}.")
    path = Path(path)
    try:
        return read_image_with_metadata(path, limit=limit)
    except ImageTooLargeError as err:
        size = f" ({err.size[0]}x{err.size[1]})" if err.size else ""
        raise fail(f"{path.name} is {err.pixels / 1e6:.0f} megapixels{size}; this app takes photos up to "
                   f"{err.limit / 1e6:g} megapixels. Save a smaller copy (or a crop) and upload that, or denoise "
                   "the full photo on your computer with the command-line denoiser.") from None
    except ImageReadError as err:
        raise fail(str(err).replace(str(path), path.name)) from None


def check_pair(image: np.ndarray, reference: np.ndarray) -> None:
    """gr.Error unless the reference matches the image in size and colour layout (alpha aside)."""
    if image.shape[:2] != reference.shape[:2]:
        raise fail(f"The reference is {size_text(reference)} pixels but the photo is {size_text(image)}; "
                   "they must be the same size (width x height).")
    if split_alpha(image)[0].shape != split_alpha(reference)[0].shape:
        raise fail(f"The reference ({describe(reference)}) and the photo ({describe(image)}) differ in colour "
                   "channels; use a reference with the same colour layout (both gray or both colour).")


def number(value, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise fail(f"The {what} must be a number, got {value!r}.") from None
