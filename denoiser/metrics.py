"""PSNR and SSIM under one convention, used everywhere (evaluate, trainer, app, tests).

The convention: the reference is an integer image (uint8 or uint16, shape (H, W) or (H, W, C)).
The image being scored may be float in [0, 1] (a network output, an unclipped noisy input) or
an integer image of the same depth; floats are first clipped and rounded to the reference's
bit depth, exactly as if saved to a file. data_range is that depth's maximum (255 or 65535).
Colour images are scored on RGB (no luma conversion); alpha channels are ignored. SSIM is
Wang et al.'s: 11x11 Gaussian window with sigma 1.5, population covariances, averaged over
channels.
"""

from __future__ import annotations

import numpy as np

from .io import from_float


def _prepare(reference: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    if reference.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"the reference must be uint8 or uint16 (got {reference.dtype}); see denoiser.metrics")
    if reference.shape != image.shape:
        raise ValueError(f"reference {reference.shape} and image {image.shape} differ in size")
    if np.issubdtype(image.dtype, np.floating):
        image = from_float(image, reference.dtype)
    elif image.dtype != reference.dtype:
        raise ValueError(f"image dtype {image.dtype} does not match the reference's {reference.dtype}")
    if reference.ndim == 3 and reference.shape[2] in (2, 4):  # drop alpha
        reference, image = reference[..., :-1], image[..., :-1]
    return reference, image, int(np.iinfo(reference.dtype).max)


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of `image` against the integer `reference` (see module doc)."""
    from skimage.metrics import peak_signal_noise_ratio

    reference, image, peak = _prepare(reference, image)
    if np.array_equal(reference, image):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, image, data_range=peak))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Structural similarity of `image` against the integer `reference` (see module doc)."""
    from skimage.metrics import structural_similarity

    reference, image, peak = _prepare(reference, image)
    if min(reference.shape[:2]) < 7:
        raise ValueError(f"SSIM needs an image of at least 7x7 pixels, got {reference.shape[:2]}")
    return float(
        structural_similarity(
            reference.astype(np.float64),
            image.astype(np.float64),
            data_range=peak,
            channel_axis=-1 if reference.ndim == 3 else None,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
