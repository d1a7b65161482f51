"""Small image operations for the app's pages: alpha, display, size text, residual map, centre crop, scores.

Arrays are (H, W) gray or (H, W, C) with C in {1, 2, 3, 4} (2 and 4 carry alpha last), uint8,
uint16 or float nominally in [0, 1], as `denoiser.io.read_image` returns them. Every function
is pure: it returns new arrays and never changes its inputs.
"""

from __future__ import annotations

import numpy as np

from denoiser.io import from_float, to_float

RESIDUAL_GAIN_RANGE = (1.0, 20.0)  # how far residual_map may amplify the removed noise


def split_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour planes, alpha (H, W, 1) or None) of an (H, W[, C]) array; no copy."""
    if array.ndim == 3 and array.shape[2] in (2, 4):
        return array[..., :-1], array[..., -1:]
    return array, None


def colour_planes(array: np.ndarray) -> np.ndarray:
    """The colour planes without alpha: (H, W) for gray (a single channel is squeezed), else (H, W, 3)."""
    planes = split_alpha(array)[0]
    return planes[..., 0] if planes.ndim == 3 and planes.shape[2] == 1 else planes


def describe(array: np.ndarray) -> str:
    """'640x480 RGB 8-bit' for an (H, W[, C]) uint8/uint16/float array."""
    channels = 1 if array.ndim == 2 else array.shape[2]
    mode = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")
    depth = {np.dtype(np.uint8): "8-bit", np.dtype(np.uint16): "16-bit"}.get(array.dtype, "float")
    return f"{size_text(array)} {mode} {depth}"


def size_text(array: np.ndarray) -> str:
    """'width x height' of an (H, W[, C]) array."""
    return f"{array.shape[1]}x{array.shape[0]}"


def to_display(array: np.ndarray) -> np.ndarray:
    """uint8 version of an image for a screen (float is clipped to [0, 1]; same shape)."""
    if array.dtype == np.uint8:
        return array
    return from_float(to_float(array).clip(0, 1), np.uint8)


def residual_map(noisy: np.ndarray, denoised: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """What denoising removed, noisy - denoised, amplified so that 3 sigma (0-255 scale) spans half
    the range and centred at mid-gray. Returns (uint8 (H, W) or (H, W, 3) without alpha, gain)."""
    diff = colour_planes(to_float(noisy)) - colour_planes(to_float(denoised))
    gain = float(np.clip(0.5 / max(3 * sigma / 255.0, 1e-6), *RESIDUAL_GAIN_RANGE))
    return from_float((0.5 + gain * diff).clip(0, 1), np.uint8), gain


def center_crop(array: np.ndarray, limit: int) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Centre crop keeping the aspect ratio so that height x width <= limit pixels.
    Returns (crop (a view), (left, top, width, height) or None when the image already fits)."""
    height, width = array.shape[:2]
    if height * width <= limit:
        return array, None
    scale = (limit / (height * width)) ** 0.5
    h, w = max(int(height * scale), 8), max(int(width * scale), 8)
    top, left = (height - h) // 2, (width - w) // 2
    return array[top : top + h, left : left + w], (left, top, w, h)


def psnr_ssim(reference: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB, SSIM) of `image` against the integer `reference` with denoiser.metrics' one
    convention, alpha ignored. An integer image of another bit depth is scored as float in [0, 1]."""
    from denoiser.metrics import psnr, ssim

    ref, img = split_alpha(reference)[0], split_alpha(image)[0]
    if not np.issubdtype(img.dtype, np.floating) and img.dtype != ref.dtype:
        img = to_float(img)
    return psnr(ref, img), ssim(ref, img)
