"""A camera's noise, fitted to its noisy photos alone, to synthesise training pairs that carry it.

Real sRGB noise is signal-dependent, colour-correlated and spatially correlated (demosaicking, in-camera
noise reduction, sharpening). Its second-order statistics can be read from a noisy photo without a clean
reference, in flat regions: there, a noisy patch minus its best-fitting plane is noise (down to the
patch's scale). From such patches we fit
  * a noise-level function per channel: the noise std at each brightness (a table over brightness bins);
  * the normalised spatial-colour auto-covariance C[i, j, dy, dx] of the noise, up to a lag of `radius`.
Sampling draws a stationary Gaussian field with exactly that covariance (its spectral density's matrix
square root applied to white noise in the Fourier domain), then scales it by the level function at the
clean image's brightness. This is the noise-modelling route of GCBD (Chen et al., CVPR 2018), with a
parametric, brightness-matched model in place of raw noise patches (which lose the match to brightness).
Which patches are flat is decided on a guide, usually the source model's own denoised output.
Photos stored as JPEG carry more than their flat regions show: the compression's ringing and blocking at
edges (PolyU's crops, at quality 75, hold 1.5x the flat regions' noise over the whole image). A sample is
therefore stored the way its photo was: a JPEG round trip at the photo's own quality, read from its file.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.numpy import save_file

from denoiser.jpeg_quality import stored_quality

from .noisy_folders import noisy_paths

BINS = 10  # brightness bins of the level function, over [0, 1]


@dataclass(frozen=True)
class FittedNoise:
    """Noise with a fitted level function and spatial-colour covariance; call it like a denoiser.noise model."""

    std: np.ndarray  # (3, BINS) noise std in [0, 1] units at bin centres (k + 0.5) / BINS
    covariance: np.ndarray  # (3, 3, 2R+1, 2R+1) auto-covariance of the unit-variance field, lag 0 at the centre
    gain: float = 1.0  # scales the std (a draw's strength)
    quantize: bool = True  # round to 8 bits, as the photos were stored
    # The camera's tone curve, x = linear^(1/gamma): noise is zero-mean in linear light, so through the concave
    # curve a noisy photo comes out darker than its clean version (Jensen's inequality: 7-9 levels in SIDD12's
    # noisiest crops). Measured std and correlation stay first-order the same. 1: noise added in the photo.
    gamma: float = 2.2
    jpeg_quality: int | None = None  # the photo was a JPEG of this quality: samples get the same round trip
    _roots: dict = field(default_factory=dict, compare=False, repr=False)

    def level(self, y: torch.Tensor) -> torch.Tensor:
        """The noise std per pixel and channel for clean image y (..., 3, H, W): each channel's level function
        read at the local brightness (the channels' mean, smoothed over 5 x 5), which all channels share so
        that the field's colour correlation survives the scaling."""
        flat = y.reshape(-1, *y.shape[-3:]).clamp(0, 1).mean(-3, keepdim=True)
        smooth = F.avg_pool2d(flat, 5, stride=1, padding=2, count_include_pad=False).reshape(*y.shape[:-3], 1, *y.shape[-2:])
        table = torch.as_tensor(self.std, dtype=y.dtype, device=y.device)  # (3, BINS)
        position = (smooth * BINS - 0.5).clamp(0, BINS - 1)
        low = position.floor().long().clamp(max=BINS - 2)
        frac = position - low
        per_channel = table[:, low] * (1 - frac) + table[:, low + 1] * frac  # (3, ..., 1, H, W)
        return self.gain * per_channel.movedim(0, -4).squeeze(-3)

    def field(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """A unit-variance noise field (..., 3, H, W) with the fitted covariance."""
        h, w = shape[-2:]
        root = self._root(h, w)
        white = torch.randn(shape, generator=generator)
        spectrum = torch.fft.fft2(white)
        return torch.fft.ifft2(torch.einsum("hwij,...jhw->...ihw", root, spectrum)).real

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = self.level(y) * self.field(tuple(y.shape), generator).to(y)
        if self.gamma == 1:
            x = (y + noise).clamp(0, 1)
        else:  # added before the tone curve, scaled by its slope: the same std in the photo, and its darkening
            linear = y.clamp(0, 1) ** self.gamma
            slope = linear.clamp(min=1e-4) ** (1 / self.gamma - 1) / self.gamma
            x = (linear + noise / slope).clamp(0, 1) ** (1 / self.gamma)
        if self.jpeg_quality is not None:
            from denoiser.degrade import jpeg

            return jpeg(x, self.jpeg_quality)
        return (x * 255).round() / 255 if self.quantize else x

    def _root(self, h: int, w: int) -> torch.Tensor:
        """The spectral density's Hermitian square root (H, W, 3, 3) on an H x W grid (cached)."""
        if (h, w) not in self._roots:
            self._roots[(h, w)] = spectral_root(self.covariance, h, w)
        return self._roots[(h, w)]

    def save(self, path: str | Path) -> None:
        arrays = {"std": self.std, "covariance": self.covariance}  # safetensors writes the raw buffer: C order
        metadata = {} if self.jpeg_quality is None else {"jpeg_quality": str(self.jpeg_quality)}
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}, str(path), metadata)

    @classmethod
    def load(cls, path: str | Path) -> "FittedNoise":
        with safe_open(str(path), framework="numpy") as f:
            tensors = {key: f.get_tensor(key) for key in ("std", "covariance")}
            quality = (f.metadata() or {}).get("jpeg_quality")
        return cls(std=tensors["std"].astype(np.float64), covariance=tensors["covariance"].astype(np.float64),
                   jpeg_quality=None if quality is None else int(quality))


def spectral_root(covariance: np.ndarray, h: int, w: int) -> torch.Tensor:
    """sqrt(S(w)) per frequency, S the 2-D DFT of the covariance placed (circularly) on an h x w grid,
    negative eigenvalues (estimation error) clipped to zero."""
    radius = covariance.shape[-1] // 2
    r_y, r_x = min(radius, (h - 1) // 2), min(radius, (w - 1) // 2)
    grid = np.zeros((3, 3, h, w))
    for dy in range(-r_y, r_y + 1):
        for dx in range(-r_x, r_x + 1):
            grid[:, :, dy % h, dx % w] = covariance[:, :, radius + dy, radius + dx]
    density = np.fft.fft2(grid).transpose(2, 3, 0, 1)  # (h, w, 3, 3), Hermitian per frequency
    density = (density + density.conj().swapaxes(-1, -2)) / 2
    values, vectors = np.linalg.eigh(density)
    root = vectors @ (np.sqrt(values.clip(min=0))[..., None] * vectors.conj().swapaxes(-1, -2))
    return torch.from_numpy(root.astype(np.complex64))


def _plane_residual(patch: np.ndarray) -> np.ndarray:
    """patch (3, P, P) minus its least-squares plane per channel."""
    p = patch.shape[-1]
    yy, xx = np.mgrid[:p, :p].astype(np.float64) / p
    basis = np.stack([np.ones_like(yy), yy, xx]).reshape(3, -1).T  # (P*P, 3)
    flat = patch.reshape(3, -1).T
    coef, *_ = np.linalg.lstsq(basis, flat, rcond=None)
    return (flat - basis @ coef).T.reshape(patch.shape)


def flat_patches(noisy: np.ndarray, guide: np.ndarray, patch: int = 32, texture_ratio: float = 0.15,
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mean (3,), residual (3, P, P)) of the patches of `noisy` (3, H, W) that are flat: where the guide's
    variance about its own plane is below texture_ratio of the noisy patch's (the noise dominates)."""
    found = []
    _, h, w = noisy.shape
    for top in range(0, h - patch + 1, patch // 2):
        for left in range(0, w - patch + 1, patch // 2):
            window = (slice(None), slice(top, top + patch), slice(left, left + patch))
            residual = _plane_residual(noisy[window])
            texture = _plane_residual(guide[window]).var()
            mean = guide[window].reshape(3, -1).mean(1)
            if residual.var() > 0 and texture < texture_ratio * residual.var() and 0.02 < mean.min() and mean.max() < 0.98:
                found.append((mean, residual))
    return found


def _level_table(patches: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(3, BINS) std per channel and brightness bin (the patch's mean over channels): the mean variance of the bin's patches, empty bins
    filled by interpolation (held constant beyond the ends)."""
    table = np.zeros((3, BINS))
    centres = (np.arange(BINS) + 0.5) / BINS
    for c in range(3):
        means = np.array([m.mean() for m, _ in patches])
        variances = np.array([r[c].var() for _, r in patches])
        bins = np.minimum((means * BINS).astype(int), BINS - 1)
        filled = [b for b in range(BINS) if (bins == b).sum() >= 2]
        if not filled:  # too few patches to tell brightness levels apart: one level
            table[c] = np.sqrt(variances.mean())
            continue
        values = [variances[bins == b].mean() for b in filled]
        table[c] = np.sqrt(np.interp(centres, centres[filled], values))
    return table


def _auto_covariance(residual: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of products r_i(p) r_j(p + d) over the patch, and their counts, for |d| <= radius."""
    p = residual.shape[-1]
    spectrum = np.fft.fft2(residual, s=(2 * p, 2 * p))
    products = np.fft.ifft2(spectrum.conj()[:, None] * spectrum[None, :]).real  # (3, 3, 2P, 2P)
    lags = np.arange(-radius, radius + 1)
    sums = products[:, :, lags[:, None] % (2 * p), lags[None, :] % (2 * p)]
    counts = np.outer(p - np.abs(lags), p - np.abs(lags)).astype(np.float64)
    return sums, counts


def fit_noise(noisy_images: list[np.ndarray], guides: list[np.ndarray], radius: int = 10, patch: int = 40,
              min_patches: int = 12) -> FittedNoise:
    """Fit one FittedNoise to noisy images (each (3, H, W) float in [0, 1]) and their guides (denoised versions)."""
    patches = [found for noisy, guide in zip(noisy_images, guides) for found in flat_patches(noisy, guide, patch)]
    if len(patches) < min_patches:
        raise ValueError(f"only {len(patches)} flat {patch}x{patch} regions found (need {min_patches}): "
                         "the noise cannot be measured on these photos (too small or all texture)")
    table = _level_table(patches)
    centres = (np.arange(BINS) + 0.5) / BINS
    total, counts = 0.0, 0.0
    for mean, residual in patches:
        scale = np.array([np.interp(mean.mean(), centres, table[c]) for c in range(3)])
        sums, count = _auto_covariance(residual / scale.clip(min=1e-4)[:, None, None], radius)
        total, counts = total + sums, counts + count
    covariance = total / counts
    diagonal = np.sqrt(np.diag(covariance[:, :, radius, radius]))
    covariance = covariance / np.outer(diagonal, diagonal)[:, :, None, None]  # unit variance per channel at lag 0
    lag = np.abs(np.arange(-radius, radius + 1)) / (radius + 1)
    taper = np.where(lag < 0.5, 1.0, 0.5 + 0.5 * np.cos(np.pi * (2 * lag - 1)))  # Tukey: the far lags fade to 0
    return FittedNoise(std=table, covariance=covariance * np.outer(taper, taper))


def fit_folder(paths: list[Path], guide: Callable[[np.ndarray], np.ndarray], per_image: bool = True,
               **options) -> list[FittedNoise]:
    """Fitted noise for noisy photos: one model per photo (its own level and correlation) where the photo has
    enough flat regions, the pooled fit of all of them otherwise (and when per_image is False); each stored as
    its photo was (`stored_quality`)."""
    from denoiser.io import read_image

    images = [np.ascontiguousarray(read_image(p)[..., :3].transpose(2, 0, 1), dtype=np.float64) / 255 for p in paths]
    guides = [guide(image) for image in images]
    qualities = [stored_quality(p) for p in paths]
    pooled = fit_noise(images, guides, **options)
    if not per_image:
        common = qualities[0] if len(set(qualities)) == 1 else None
        return [dataclasses.replace(pooled, jpeg_quality=common)]
    models = []
    for image, g, quality in zip(images, guides, qualities):
        try:
            fitted = fit_noise([image], [g], **options)
        except ValueError:
            fitted = pooled
        models.append(dataclasses.replace(fitted, jpeg_quality=quality))
    return models


def denoised_guide(model: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """image (3, H, W) in [0, 1] -> the model's denoised image, the same shape (the guide to flat regions)."""
    from denoiser.inference import denoise

    def guide(image: np.ndarray) -> np.ndarray:
        photo = (image.transpose(1, 2, 0) * 255).round().astype(np.uint8)
        return np.asarray(denoise(photo, model), dtype=np.float64).transpose(2, 0, 1) / 255

    return guide


def measured_noise(run: Path, sources: tuple[str, ...], split: str, model: torch.nn.Module,
                   is_main: bool = True) -> tuple[FittedNoise, ...]:
    """The noise of the photos in `sources` (noisy/ only; `split` as --noisy-split), measured once with
    `model` as the guide to flat regions, and kept in RUN/fitted_noise/: a resumed run and every DDP rank
    read the same models."""
    if not sources:
        return ()
    folder = Path(run) / "fitted_noise"
    saved = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if saved:
        return tuple(FittedNoise.load(path) for path in saved)
    paths = [path for source in sources for path in noisy_paths(source, split)]
    guide = copy.deepcopy(model).cpu().eval()
    models = fit_folder(paths, denoised_guide(guide))
    if is_main:
        folder.mkdir(parents=True, exist_ok=True)
        for index, (path, fitted) in enumerate(zip(paths, models)):
            fitted.save(folder / f"{index:04d}-{path.stem}.safetensors")
        print(f"measured the noise of {len(paths)} photos in {list(sources)}: {folder}", flush=True)
    return tuple(models)
