"""Noise models and single-image noise estimation.

Every model takes a clean image `y` as a float tensor in [0, 1] of shape (C, H, W) or
(B, C, H, W) and an optional `torch.Generator`, and returns a new tensor; nothing is modified
in place and no global random state is used. `sigma` is always on the 0-255 scale
(sigma = 25 means a standard deviation of 25/255); NLF parameters act on [0, 1] intensities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .degrade import ColorGaussian, Raw, bayer_masks, bilinear_demosaic, check_quality, check_range, jpeg
from .io import to_float

NOISE_KINDS = ("gaussian", "poisson", "salt-pepper", "nlf", "mask", "camera", "color-gaussian", "raw")


def _randn(y: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)


def _rand(shape: tuple, y: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=y.dtype, device=y.device)


@dataclass(frozen=True)
class Gaussian:
    """Additive white Gaussian noise x = y + N(0, (sigma/255)^2); unclipped unless `clip`."""

    sigma: float
    clip: bool = False

    def __post_init__(self) -> None:
        check_range("sigma", self.sigma, 0.0, 1000.0)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = y + (self.sigma / 255.0) * _randn(y, generator)
        return x.clamp(0, 1) if self.clip else x


@dataclass(frozen=True)
class Poisson:
    """Shot noise: x = Poisson(peak * y) / peak. Lower peak means noisier."""

    peak: float

    def __post_init__(self) -> None:
        check_range("peak", self.peak, 1e-3)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.poisson(y.clamp(0, 1) * self.peak, generator=generator) / self.peak


@dataclass(frozen=True)
class SaltPepper:
    """Impulse noise: a fraction `amount` of values set to 0 or 1 (salt with probability `salt`)."""

    amount: float
    salt: float = 0.5

    def __post_init__(self) -> None:
        check_range("amount", self.amount, 0.0, 1.0)
        check_range("salt", self.salt, 0.0, 1.0)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        hit = _rand(y.shape, y, generator) < self.amount
        salt = _rand(y.shape, y, generator) < self.salt
        return torch.where(hit, salt.to(y.dtype), y)


@dataclass(frozen=True)
class NLF:
    """Signal-dependent noise: sigma^2(y) = beta1 * y + beta2, x = clip(y + N(0, sigma^2(y)), 0, 1)."""

    beta1: float
    beta2: float

    def __post_init__(self) -> None:
        check_range("beta1", self.beta1, 0.0, 1.0)
        check_range("beta2", self.beta2, 0.0, 1.0)

    def std(self, y: torch.Tensor) -> torch.Tensor:
        return (self.beta1 * y.clamp(0, 1) + self.beta2).sqrt()

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return (y + self.std(y) * _randn(y, generator)).clamp(0, 1)


@dataclass(frozen=True)
class Mask:
    """The classic denoising-autoencoder corruption: a fraction of pixels (all channels) set to 0."""

    fraction: float

    def __post_init__(self) -> None:
        check_range("fraction", self.fraction, 0.0, 1.0)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        shape = (*y.shape[:-3], 1, *y.shape[-2:])
        keep = _rand(shape, y, generator) >= self.fraction
        return y * keep.to(y.dtype)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve inverted (IEC 61966-2-1), [0, 1] -> [0, 1]."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve, [0, 1] -> [0, 1]."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-8) ** (1 / 2.4) - 0.055)


@dataclass(frozen=True)
class Camera:
    """Realistic camera noise for training: Poisson-Gaussian (NLF) noise in linear light, optionally
    sampled on an RGGB Bayer mosaic and bilinearly demosaicked (so it becomes spatially correlated,
    as in real photos), then the sRGB curve, then optional JPEG at `jpeg_quality`. beta1 (shot) and
    beta2 (read) act on linear intensities in [0, 1]."""

    beta1: float
    beta2: float
    bayer: bool = True
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        check_range("beta1", self.beta1, 0.0, 1.0)
        check_range("beta2", self.beta2, 0.0, 1.0)
        check_quality(self.jpeg_quality)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if y.shape[-3] != 3:
            raise ValueError("camera noise needs RGB images (3 channels)")
        linear = srgb_to_linear(y)
        noise = (self.beta1 * linear + self.beta2).sqrt() * _randn(linear, generator)
        if self.bayer:
            # Demosaic the noise field only: the clean image stands for the camera's own demosaicked
            # output, so the signal is not blurred, while the noise gets the spatial correlation.
            masks = bayer_masks(*y.shape[-2:], y.dtype, y.device)
            noise = bilinear_demosaic(noise * masks, masks)
        x = linear_to_srgb(linear + noise)
        return jpeg(x, int(self.jpeg_quality)) if self.jpeg_quality else x


NoiseModel = Gaussian | Poisson | SaltPepper | NLF | Mask | Camera | ColorGaussian | Raw

_CLASSES = {"gaussian": Gaussian, "poisson": Poisson, "salt-pepper": SaltPepper, "nlf": NLF, "mask": Mask,
            "camera": Camera, "color-gaussian": ColorGaussian, "raw": Raw}


def make_noise(kind: str, **params: float) -> NoiseModel:
    """Build a noise model by name, e.g. make_noise("gaussian", sigma=25); bad names fail loudly."""
    if kind not in _CLASSES:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    cls = _CLASSES[kind]
    try:
        return cls(**params)
    except TypeError as err:
        fields = list(cls.__dataclass_fields__)
        raise ValueError(f"bad parameters {sorted(params)} for {kind!r} noise; it takes {fields}") from err


def make_noisy(image: np.ndarray, kind: str, params: dict, seed: int) -> np.ndarray:
    """Seeded synthetic noise on an (H, W[, C]) image (uint8, uint16 or float in [0, 1]):
    make_noise(kind, **params) on its colour planes with torch.Generator().manual_seed(seed); an
    alpha plane (C = 2 or 4, last) is passed through untouched. Returns float32 of the same shape,
    not clipped (clipping depends on the noise model). What `denoiser add-noise` and the app's
    synthetic-noise tab both run, so the same seed gives the same noise in either."""
    noise = make_noise(kind, **params)
    x = to_float(np.asarray(image))
    planes = x if x.ndim == 3 else x[..., None]  # (H, W, C)
    alpha = planes[..., -1:] if planes.shape[2] in (2, 4) else None
    colour = planes[..., :-1] if alpha is not None else planes
    tensor = torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))  # (C, H, W)
    noisy = noise(tensor, torch.Generator().manual_seed(int(seed))).numpy().transpose(1, 2, 0)
    if alpha is not None:
        noisy = np.concatenate([noisy, alpha], axis=2)
    return np.ascontiguousarray(noisy if x.ndim == 3 else noisy[..., 0], dtype=np.float32)


# ----------------------------------------------------------------------------- estimation

def _as_hwc(image: np.ndarray) -> np.ndarray:
    """float (H, W) or (H, W, C) in [0, 1] -> (H, W, C) float64."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"need an (H, W) or (H, W, C) image, got shape {image.shape}")
    if min(image.shape[:2]) < 3:
        raise ValueError(f"a {image.shape[1]}x{image.shape[0]} image is too small to estimate its noise level "
                         "(at least 3x3 pixels); give sigma explicitly")
    return image


def _laplacian_residual(image: np.ndarray) -> np.ndarray:
    """Immerkaer's mask, which cancels locally planar structure; for white noise of std s the
    output has std 6 * s. Input (H, W, C) -> (H-2, W-2, C)."""
    t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[:, None]  # (C, 1, H, W)
    kernel = torch.tensor([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=t.dtype)[None, None]
    return F.conv2d(t, kernel)[:, 0].numpy().transpose(1, 2, 0) / 6.0


def estimate_sigma(image: np.ndarray) -> float:
    """Estimate the std of additive white Gaussian noise, on the 0-255 scale.

    image: float (H, W) or (H, W, C), nominally [0, 1]. Uses the wavelet median-absolute-deviation
    estimator (Donoho) averaged over channels, which is robust to edges and texture.
    """
    from skimage.restoration import estimate_sigma as wavelet_sigma

    import warnings

    image = _as_hwc(image)
    with warnings.catch_warnings():  # a flat image has no non-zero detail coefficient: skimage's median is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = float(wavelet_sigma(image, channel_axis=-1, average_sigmas=True))
    return 0.0 if math.isnan(sigma) else sigma * 255.0


def estimate_nlf(image: np.ndarray, block: int = 8, bins: int = 16) -> tuple[float, float]:
    """Fit the noise level function sigma^2(y) = beta1 * y + beta2 to one noisy image.

    image: float (H, W) or (H, W, C) in [0, 1]. The image is cut into blocks; each gives its mean
    intensity and the variance of a structure-cancelling residual. Per intensity bin a low
    quantile of those variances (flat blocks, not texture) is kept, and a non-negative
    least-squares line is fitted. Returns (beta1, beta2).
    """
    image = _as_hwc(image)
    residual = _laplacian_residual(image)
    core = image[1:-1, 1:-1]
    h, w = (residual.shape[0] // block) * block, (residual.shape[1] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image too small for NLF estimation with {block}x{block} blocks")

    def blocks(a: np.ndarray) -> np.ndarray:  # (H, W, C) -> (N, block*block)
        a = a[:h, :w].reshape(h // block, block, w // block, block, -1).transpose(0, 2, 4, 1, 3)
        return a.reshape(-1, block * block)

    means = blocks(core).mean(1)
    variances = blocks(residual).var(1)
    # Blocks touching the clipping limits have truncated noise; leave them out.
    ok = (blocks(core).min(1) > 0.01) & (blocks(core).max(1) < 0.99)
    means, variances = means[ok], variances[ok]
    if means.size < 2 * bins:
        return 0.0, (estimate_sigma(image) / 255.0) ** 2
    edges = np.quantile(means, np.linspace(0, 1, bins + 1))
    xs, ys, weights = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = variances[(means >= lo) & (means <= hi)]
        if sel.size >= 8:
            xs.append(means[(means >= lo) & (means <= hi)].mean())
            # The 20th percentile of chi-square-like block variances sits below the true variance;
            # divide by its expected ratio so a flat, purely noisy image is unbiased.
            ys.append(np.quantile(sel, 0.2) / _LOW_QUANTILE_RATIO)
            weights.append(sel.size)
    if len(xs) < 2:  # too few flat blocks per intensity for a line: fall back to white noise
        return 0.0, (estimate_sigma(image) / 255.0) ** 2
    return _nonnegative_line_fit(np.array(xs), np.array(ys), np.array(weights, dtype=float))


# 20th percentile of 8x8-block variances of the (correlated) residual / true variance, measured
# on pure Gaussian noise (0.728 for 512x512x3 at sigma 0.05).
_LOW_QUANTILE_RATIO = 0.728


def _nonnegative_line_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least squares y = b1 * x + b2 with b1, b2 >= 0."""
    if x.size == 0:
        return 0.0, 0.0
    sw = np.sqrt(w)
    a = np.stack([x, np.ones_like(x)], 1) * sw[:, None]
    b1, b2 = np.linalg.lstsq(a, y * sw, rcond=None)[0]
    if b1 < 0:  # flat line through the weighted mean
        return 0.0, float(max(np.average(y, weights=w), 0.0))
    if b2 < 0:  # line through the origin
        return float(max((x * y * w).sum() / (x * x * w).sum(), 0.0)), 0.0
    return float(b1), float(b2)
