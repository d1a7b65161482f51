"""Full-resolution inference: any size, bit depth and channel layout, in overlapping tiles.

The image is padded once to the network's stride; tiles start on stride multiples and carry a
margin of at least the receptive field, so the tiled result equals the whole-image result
while memory stays bounded by the tile size.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .io import from_float, pil_to_array, to_float
from .noise import estimate_sigma
from .white_noise import chroma_ratio, white_noise_check

DEFAULT_TILE = 1024  # core tile side in pixels; about 1.5 GB peak for the default model
ProgressFn = Callable[[int, int], None]  # (tiles done, tiles total)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def check_sigma(sigma: float) -> float:
    """Validate a noise level on the 0-255 scale and return it as a float."""
    try:
        sigma = float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"sigma must be a number on the 0-255 scale, got {sigma!r}") from None
    if not math.isfinite(sigma) or not 0 <= sigma <= 255:
        raise ValueError(f"sigma must be between 0 and 255 (the 0-255 scale), got {sigma}")
    return sigma


def image_sigma(image: np.ndarray) -> float:
    """Estimated noise level (0-255 scale) of an (H, W[, C]) uint8/uint16/float image, alpha ignored."""
    planes = to_float(np.asarray(image))
    if planes.ndim == 3 and planes.shape[2] in (2, 4):
        planes = planes[..., :-1]
    return estimate_sigma(planes)


@torch.inference_mode()
def denoise_tensor(
    noisy: torch.Tensor,
    model: torch.nn.Module,
    sigma_map: torch.Tensor | None,
    tile: int | None = DEFAULT_TILE,
    progress: ProgressFn | None = None,
    noise_scale: float = 1.0,
) -> torch.Tensor:
    """Denoise (B, C, H, W) float (any range) with `sigma_map` (B, 1, H, W) or (B, 1, 1, 1) in
    [0, 1] units; returns (B, C, H, W) float, unclipped. `tile=None` processes the whole image.
    sigma_map None with a model that has an estimator: its estimate, times `noise_scale`."""
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, numbers.Integral) or tile < 1):
        raise ValueError(f"tile must be a positive number of pixels (or None for the whole image), got {tile!r}")
    stride, margin = model.stride, _round_up(model.receptive_radius(), model.stride)
    height, width = noisy.shape[-2:]
    pad_h, pad_w = _round_up(height, stride) - height, _round_up(width, stride) - width
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    x = F.pad(noisy, (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else noisy
    if sigma_map is None:
        s = None
    elif sigma_map.shape[-2:] == (1, 1):
        s = sigma_map.expand(-1, 1, *x.shape[-2:])
    else:
        s = F.pad(sigma_map, (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else sigma_map

    # channels_last input makes oneDNN pick faster convolution kernels on CPU (the weights are
    # reordered internally; the model object is left as it is).
    x = x.contiguous(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()
    try:
        run = functools.partial(model, noise_scale=noise_scale) if noise_scale != 1 else model
        if tile is None or max(x.shape[-2:]) <= tile + 2 * margin:
            out = run(x, s)
            if progress:
                progress(1, 1)
        else:
            out = _tiled(x, s, run, _round_up(tile, stride), margin, progress)
    finally:
        model.train(was_training)
    return out[..., :height, :width]


def _tiled(x, s, model, tile: int, margin: int, progress: ProgressFn | None) -> torch.Tensor:
    height, width = x.shape[-2:]
    out = None
    origins = [(y, x0) for y in range(0, height, tile) for x0 in range(0, width, tile)]
    for done, (y0, x0) in enumerate(origins, 1):
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        ya, xa = max(y0 - margin, 0), max(x0 - margin, 0)
        yb, xb = min(y1 + margin, height), min(x1 + margin, width)
        window = model(x[..., ya:yb, xa:xb], None if s is None else s[..., ya:yb, xa:xb])
        if out is None:  # the model's output channels (an estimator gives 1)
            out = x.new_empty((*window.shape[:-2], height, width))
        out[..., y0:y1, x0:x1] = window[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        if progress:
            progress(done, len(origins))
    return out


def _self_ensemble(x, model, sigma_map, tile, progress: ProgressFn | None, noise_scale: float = 1.0) -> torch.Tensor:
    """Mean over the 8 dihedral transforms (4 rotations x optional flip), each undone afterwards."""
    total = torch.zeros_like(x)
    for index, (turns, flip) in enumerate((t, f) for f in (False, True) for t in range(4)):
        view = torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))
        view_map = sigma_map if sigma_map is None or sigma_map.shape[-2:] == (1, 1) else \
            torch.rot90(sigma_map.flip(-1) if flip else sigma_map, turns, dims=(-2, -1))
        out = torch.rot90(denoise_tensor(view, model, view_map, tile, noise_scale=noise_scale), -turns, dims=(-2, -1))
        total += out.flip(-1) if flip else out
        if progress:
            progress(index + 1, 8)
    return total / 8


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


MAX_STRENGTH = 4.0


def has_estimator(model: torch.nn.Module) -> bool:
    """True for models that predict their own noise map (the photo model)."""
    return getattr(model, "estimator", None) is not None


def check_strength(strength: float) -> float:
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0 <= strength <= MAX_STRENGTH:
        raise ValueError(f"strength must be a number in [0, {MAX_STRENGTH:g}] (1 = the noise level as estimated "
                         f"or given), got {strength!r}")
    return float(strength)


def _planes(image: np.ndarray | Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(array as given, colour planes (H, W, c) float, alpha (H, W, 1) or None), checked."""
    array = pil_to_array(image) if isinstance(image, Image.Image) else np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 1-4), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"the image is empty: shape {array.shape}")
    values = to_float(array)
    if not np.isfinite(values).all():
        raise ValueError("the image contains NaN or infinite values")
    planes = values if values.ndim == 3 else values[..., None]
    if planes.shape[2] in (2, 4):
        return array, planes[..., :-1], planes[..., -1:]
    return array, planes, None


def _model_input(planes: np.ndarray, model: torch.nn.Module) -> tuple[torch.Tensor, float]:
    """(network input (B, c, H, W), factor for the noise map). A gray image through a colour model
    is denoised as three identical copies: they carry identical noise, so their luminance holds
    all of it (std sigma) where independent per-channel noise would leave sigma / sqrt(3); the
    model is calibrated on the latter, so it is told sqrt(3) sigma (+5 dB on BSD68, sigma 25). The photo
    model too: on gray ImageNet-val crops at sigma 25 (validation) sqrt(3) gave 28.96 dB against 27.97
    for sigma as it is, though its training saw some channel-correlated noise."""
    x = torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))[None].to(_model_device(model))
    channels = model.config.channels
    if channels == 3 and x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1), math.sqrt(3)
    if channels == 1 and x.shape[1] == 3:
        return x.transpose(0, 1), 1.0  # colour through a gray model: channels as a batch, (3, 1, H, W)
    return x, 1.0


def denoise(
    image: np.ndarray | Image.Image,
    model: torch.nn.Module,
    sigma: float | None = None,
    tile: int | None = DEFAULT_TILE,
    progress: ProgressFn | None = None,
    strength: float = 1.0,
    ensemble: bool = False,
    per_pixel: bool = False,
) -> np.ndarray | Image.Image:
    """Denoise one image at full resolution and return it in the input's shape and dtype.

    image: PIL image, or array (H, W), (H, W, 1|2|3|4) of uint8, uint16 or float. Floats are
    nominally in [0, 1] and are not clipped on the way in (an unclipped noisy input is valid).
    Alpha (LA / RGBA) passes through untouched. sigma: noise level on the 0-255 scale whatever
    the bit depth; None estimates it (the photo model predicts a per-pixel noise map; others use
    a white-noise estimate). strength in [0, 4] scales that noise level: 1 is the estimate (or
    the given sigma), below 1 keeps more texture and grain, above 1 removes more. Blind models
    (no noise-map input) take neither. With the photo model the noise level is the median of its
    learned per-pixel map, one level for the whole image: on validation data (AWGN, synthetic camera
    noise and SIDD12) that beat feeding the map itself, which reads texture as noise;
    per_pixel=True feeds the map. ensemble=True averages the 8 flips/rotations of the image
    (self-ensemble): a slower "max quality" mode, about 8x the time. Float output is clipped to [0, 1].
    """
    array, planes, alpha = _planes(image)
    strength = check_strength(strength)
    if not model.config.noise_map:
        if sigma is not None or strength != 1:
            raise ValueError("this model is blind (it takes no noise level): leave sigma and strength unset")
    elif sigma is not None:
        sigma = check_sigma(sigma)
    elif not has_estimator(model):
        sigma = estimate_sigma(planes)
    elif not per_pixel:
        sigma = _estimate(planes, model, tile).sigma

    x, map_factor = _model_input(planes, model)
    if not model.config.noise_map or sigma is None:  # blind, or the model's own estimate
        sigma_map, noise_scale = None, strength * map_factor
    else:
        sigma_map = torch.full((x.shape[0], 1, 1, 1), sigma * strength * map_factor / 255.0, device=x.device)
        noise_scale = 1.0
    if ensemble:
        out = _self_ensemble(x, model, sigma_map, tile, progress, noise_scale)
    else:
        out = denoise_tensor(x, model, sigma_map, tile, progress, noise_scale)
    return _to_output(out, planes, alpha, array, model, isinstance(image, Image.Image))


def _to_output(out: torch.Tensor, planes, alpha, array, model, as_pil: bool):
    channels = model.config.channels
    if planes.shape[2] == 1 and channels == 3:
        out = out.mean(1, keepdim=True)
    elif planes.shape[2] == 3 and channels == 1:
        out = out.transpose(0, 1)
    result = out[0].cpu().numpy().transpose(1, 2, 0).clip(0, 1)  # (H, W, c)
    if alpha is not None:
        result = np.concatenate([result, alpha], axis=2)
    if array.ndim == 2:
        result = result[..., 0]
    result = from_float(result, array.dtype)
    if alpha is not None:
        result[..., -1] = array[..., -1]  # alpha bit-exact, not round-tripped through float32
    return Image.fromarray(result) if as_pil else result


NOISE_WORDS = ((6.0, "light"), (15.0, "moderate"), (math.inf, "heavy"))  # (σ below which, word), 0-255 scale


def noise_word(sigma: float) -> str:
    """The noise level in a word a non-expert reads: light (σ < 6, visible in flat areas), moderate
    (< 15, what real photos in ../shared/data mostly show) or heavy."""
    return next(word for limit, word in NOISE_WORDS if sigma < limit)


@dataclass(frozen=True)
class NoiseEstimate:
    """What a model will assume about an image's noise, on the 0-255 scale."""

    sigma: float  # the median noise std over the image: the level denoise() uses, and the one number to show
    low: float  # 5th percentile of the map (equal to sigma for a white-noise estimate)
    high: float  # 95th percentile
    method: str  # "learned" (the model's per-pixel estimator) or "wavelet" (white-noise MAD)
    map: np.ndarray | None = None  # (H, W) float32 per-pixel std for "learned", else None
    learned_weight: float = 1.0  # "learned": 1 = the learned level; 0 = the noise looked white (`white_noise_check`)

    def plain(self) -> str:
        """'Noise: moderate (σ ≈ 7.4, learned estimate; 5.5–10.9 across the image)': the word first,
        the numbers for experts after it."""
        return f"Noise: {noise_word(self.sigma)} (σ ≈ {self.sigma:.1f}, {self._how()})"

    def describe(self) -> str:
        """'σ ≈ 7.4 (learned estimate; 5.5–10.9 across the image)': the numbers alone."""
        return f"σ ≈ {self.sigma:.1f} ({self._how()})"

    def _how(self) -> str:
        how = "learned estimate" if self.method == "learned" else "white-noise estimate"
        how += "; the noise looks white" if self.method == "learned" and self.learned_weight < 0.5 else ""
        return how + (f"; {self.low:.1f}–{self.high:.1f} across the image" if self.high - self.low >= 1 else "")


class _EstimatorOnly(torch.nn.Module):
    """A model's noise estimator wrapped like a model, so the tiled path can run it on any size."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.estimator, self.config = model.estimator, model.config
        self.stride, self._radius = model.stride, model.estimator.receptive_radius()

    def receptive_radius(self) -> int:
        return self._radius

    def forward(self, noisy: torch.Tensor, sigma_map=None, noise_scale: float = 1.0) -> torch.Tensor:
        return self.estimator(noisy) * noise_scale


def estimate_noise(image: np.ndarray | Image.Image, model: torch.nn.Module | None = None,
                   tile: int | None = DEFAULT_TILE) -> NoiseEstimate:
    """The noise level `denoise(image, model)` would assume: the median of the model's learned
    per-pixel map when it has an estimator (the photo model), else the white-noise wavelet estimate."""
    return _estimate(_planes(image)[1], model, tile)


def _estimate(planes: np.ndarray, model: torch.nn.Module | None, tile: int | None) -> NoiseEstimate:
    """estimate_noise on colour planes (H, W, c) float that `_planes` already read and checked."""
    if model is None or not has_estimator(model):
        sigma = estimate_sigma(planes)
        return NoiseEstimate(sigma, sigma, sigma, "wavelet")
    x, _ = _model_input(planes, model)
    with torch.inference_mode():
        noise_map = denoise_tensor(x, _EstimatorOnly(model), None, tile)[:1, 0] * 255
    values = noise_map.float().cpu().numpy()[0]
    low, median, high = np.percentile(values, [5, 50, 95])
    level, learned_weight = float(median), 1.0
    if model.config.white_noise_check:
        level, learned_weight = white_noise_check(level, estimate_sigma(planes), chroma_ratio(planes))
    scale = level / max(float(median), 1e-6)
    return NoiseEstimate(level, float(low) * scale, float(high) * scale, "learned", values.astype(np.float32),
                         learned_weight)
