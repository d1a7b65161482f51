"""The JPEG quality a photo was stored at, read from its file: what `adapt` gives its training samples, so
that they carry the same compression as the photos whose noise it measured (`denoiser_train.noise_fit`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# The IJG library's base luminance quantisation table (JPEG standard, Annex K), row by row as PIL gives it.
_IJG_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                      14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
                      92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])


def ijg_table(quality: int) -> np.ndarray:
    """The luminance table the IJG library (PIL and many cameras; other tables get the nearest) writes at `quality` 1-100."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip((_IJG_LUMA * scale + 50) // 100, 1, 255)


def stored_quality(path: str | Path) -> int | None:
    """The JPEG quality a photo was stored at (the IJG quality whose luminance table is nearest the file's);
    None for a lossless file, or one PIL cannot open (e.g. HEIC without its plug-in)."""
    try:
        with Image.open(path) as image:
            tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    except OSError:
        return None
    if not tables or len(tables[0]) != 64:
        return None
    luma = np.asarray(tables[0], dtype=np.float64)
    errors = [np.abs(np.log(luma) - np.log(ijg_table(q))).mean() for q in range(1, 101)]
    return int(np.argmin(errors)) + 1
