"""Is an image's noise white? The photo model's learned level is calibrated for correlated camera
noise and reads white noise 1.5-2.4x too high; the wavelet (white-noise) estimate is right on
white noise and reads correlated noise 3-25x too low. Two cheap tests tell them apart, and
`white_noise_check` trusts the wavelet estimate only where both say "white":

- the ratio of the learned level to the wavelet estimate (spatial correlation). Set on validation
  data: ImageNet-val with AWGN sigma 15-50 gives 1.5-2.0 (sigma 5: up to 2.4), resize-correlated
  noise 2.9-7.8, SIDD12 3.8-4.5, PolyU's train scenes > 20.
- the chroma-to-luma ratio of the finest-scale noise (`chroma_ratio`). White RGB noise has as
  much fine chroma noise as luma noise (ratio ~1); JPEG's 4:2:0 chroma subsampling, demosaicking
  and in-camera chroma denoising remove fine chroma. ImageNet-val 320² crops: AWGN sigma 5-50 gives
  0.49-1.01 (sigma 2: 0.30-0.89), the same AWGN then JPEG 70-95 0.00-0.09 (sigma 5: up to 0.27),
  PolyU's train scenes 0.00-0.21. The ratio test alone read JPEG'd AWGN as white (1.0-1.5).
"""

from __future__ import annotations

import numpy as np

WHITE_RATIO = (2.1, 2.7)  # learned / wavelet level: white below the first, correlated above the second
CHROMA_RATIO = (0.15, 0.3)  # fine chroma / luma noise: correlated (JPEG'd, demosaicked) below the first, white above the second

_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
_WHITE_STD = np.sqrt((_YCBCR**2).sum(1))  # std of Y, Cb, Cr for unit white noise in each of R, G, B


def chroma_ratio(planes: np.ndarray) -> float | None:
    """Fine-scale chroma noise over luma noise, each scaled to 1 for white RGB noise: the median
    absolute diagonal Haar detail of Cb and Cr (their mean) over that of Y. planes: (H, W, 3) float.
    None where it cannot tell: a gray image (one channel, or three equal ones) has no chroma at all."""
    if planes.ndim != 3 or planes.shape[2] != 3 or min(planes.shape[:2]) < 2:
        return None
    if np.array_equal(planes[..., 0], planes[..., 1]) and np.array_equal(planes[..., 1], planes[..., 2]):
        return None
    h, w = planes.shape[0] // 2 * 2, planes.shape[1] // 2 * 2
    ycc = planes[:h, :w].astype(np.float32, copy=False) @ _YCBCR.T
    detail = (ycc[0::2, 0::2] - ycc[0::2, 1::2] - ycc[1::2, 0::2] + ycc[1::2, 1::2]) / 2
    luma, cb, cr = np.median(np.abs(detail).reshape(-1, 3), axis=0) / _WHITE_STD
    return float((cb + cr) / 2 / max(luma, 1e-8))


def _ramp(value: float, low: float, high: float) -> float:
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def white_noise_check(learned: float, white: float, chroma: float | None = None) -> tuple[float, float]:
    """(the level to use, the learned level's weight in it) from the learned level, the wavelet
    estimate (0-255 scale) and `chroma_ratio` (None: not known). The learned level's weight is 1
    where either test says the noise is correlated (ratio above WHITE_RATIO[1], or chroma below
    CHROMA_RATIO[0]), 0 where both say white, linear between; the level blends the two estimates."""
    weight = _ramp(learned / max(white, 1e-3), *WHITE_RATIO)
    if chroma is not None:
        weight = max(weight, 1.0 - _ramp(chroma, *CHROMA_RATIO))
    return weight * learned + (1 - weight) * white, weight
