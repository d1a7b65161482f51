"""Classical denoisers behind one call: `classical_denoise(image, method, sigma)`.

Each takes a float image (H, W) or (H, W, C) nominally in [0, 1] and the noise level on the
0-255 scale, and returns a float image of the same shape. Parameters are tied to sigma so one
setting serves all noise levels (tuned on CBSD68 at sigma 25; see ../shared/NOTES.md).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _channel_axis(image: np.ndarray) -> int | None:
    return -1 if image.ndim == 3 else None


def median(image: np.ndarray, sigma: float) -> np.ndarray:
    """Median filter, 3x3 (5x5 above sigma 30), per channel."""
    from scipy.ndimage import median_filter

    size = 3 if sigma <= 30 else 5
    footprint = (size, size, 1) if image.ndim == 3 else (size, size)
    return median_filter(image, size=footprint, mode="reflect")


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur whose width grows with the noise level: std 0.3 + sigma / 25 pixels."""
    from scipy.ndimage import gaussian_filter

    width = 0.3 + sigma / 25
    return gaussian_filter(image, sigma=(width, width, 0) if image.ndim == 3 else width, mode="reflect")


def bilateral(image: np.ndarray, sigma: float) -> np.ndarray:
    """Bilateral filter with a range kernel of 2 sigma."""
    from skimage.restoration import denoise_bilateral

    clipped = np.clip(image, 0, 1)  # the range kernel needs non-negative values
    return denoise_bilateral(clipped, sigma_color=max(2 * sigma / 255, 1e-3), sigma_spatial=1.5,
                             win_size=5, channel_axis=_channel_axis(image))


def nlmeans(image: np.ndarray, sigma: float) -> np.ndarray:
    """Fast non-local means, h = 0.5 sigma, 5x5 patches, 13x13 search (NOTES: 28.40 dB at sigma 25)."""
    from skimage.restoration import denoise_nl_means

    s = sigma / 255
    return denoise_nl_means(image, h=0.5 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
                            channel_axis=_channel_axis(image))


def tv(image: np.ndarray, sigma: float) -> np.ndarray:
    """Total-variation (Chambolle); weight 0.07 at sigma 25, proportional to sigma."""
    from skimage.restoration import denoise_tv_chambolle

    if sigma <= 0:
        return image.copy()  # weight 0: nothing to remove (and skimage divides by the weight)
    return denoise_tv_chambolle(image, weight=0.07 * sigma / 25, channel_axis=_channel_axis(image))


def wavelet(image: np.ndarray, sigma: float) -> np.ndarray:
    """BayesShrink wavelet thresholding, in YCbCr for colour."""
    from skimage.restoration import denoise_wavelet

    colour = image.ndim == 3 and image.shape[2] == 3
    return denoise_wavelet(image, sigma=sigma / 255, method="BayesShrink", mode="soft", rescale_sigma=True,
                           convert2ycbcr=colour, channel_axis=_channel_axis(image))


def svd(image: np.ndarray, sigma: float) -> np.ndarray:
    """Truncated SVD (low-rank) per channel: singular values below sigma (sqrt(H) + sqrt(W)), the
    largest a pure-noise matrix produces, are dropped (the paper's 'future work' baseline)."""
    planes = image if image.ndim == 3 else image[..., None]
    threshold = sigma / 255 * (np.sqrt(planes.shape[0]) + np.sqrt(planes.shape[1]))
    out = np.empty_like(planes)
    for c in range(planes.shape[2]):
        u, s, vt = np.linalg.svd(planes[..., c].astype(np.float64), full_matrices=False)
        keep = max(int((s > threshold).sum()), 1)
        out[..., c] = (u[:, :keep] * s[:keep]) @ vt[:keep]
    return out if image.ndim == 3 else out[..., 0]


def noisy(image: np.ndarray, sigma: float) -> np.ndarray:
    """The input unchanged: the 'noisy input' reference row of an evaluation."""
    return image


METHODS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "noisy": noisy,
    "median": median,
    "blur": blur,
    "bilateral": bilateral,
    "nlmeans": nlmeans,
    "tv": tv,
    "wavelet": wavelet,
    "svd": svd,
}


def classical_denoise(image: np.ndarray, method: str, sigma: float) -> np.ndarray:
    """Run classical `method` on a float (H, W[, C]) image with noise level sigma (0-255 scale)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}")
    return np.asarray(METHODS[method](np.asarray(image, dtype=np.float32), float(sigma)), dtype=np.float32)
