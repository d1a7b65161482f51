"""The noisy photos' own denoised versions, as the clean photos `adapt` puts their measured noise on.

They have the photos' content at the photos' brightness, which other clean photos lack, and they need no data
folder. Their flaws (what the model leaves or smooths) are the starting model's own, so adapting learns the
noise it did not remove, not new content. Large collections are capped: a centre crop of at most MAX_SIDE per
photo, and at most MAX_PHOTOS photos (evenly spread), so the denoising costs about a minute on 2 CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

MAX_SIDE = 1024
MAX_PHOTOS = 64


def write_own_clean(noisy: list[Path] | list[np.ndarray], model: torch.nn.Module, folder: str | Path) -> Path:
    """Denoise `noisy` (paths, or arrays H x W x 3) with `model` into `folder` (PNG); returns the folder."""
    from denoiser.inference import denoise
    from denoiser.io import read_image, write_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    picked = np.linspace(0, len(noisy) - 1, min(len(noisy), MAX_PHOTOS)).round().astype(int)
    model = model.eval()
    for index in sorted(set(picked.tolist())):
        item = noisy[index]
        image = _centre(rgb8(read_image(item) if isinstance(item, Path) else item), MAX_SIDE)
        write_image(folder / f"{index:04d}.png", np.asarray(denoise(image, model)))
    return folder


def rgb8(image: np.ndarray) -> np.ndarray:
    """A photo as 8-bit RGB, what the noise is measured on: gray repeated, alpha dropped, 16 bits rounded."""
    from denoiser.io import from_float, to_float

    if image.ndim == 2:
        image = image[..., None]
    image = image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)
    return image if image.dtype == np.uint8 else from_float(to_float(image), np.uint8)


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[top : top + side, left : left + side]
