"""Full-resolution inference: any size, bit depth and channel layout, in overlapping tiles.

The image is padded once to the network's stride; tiles start on stride multiples and carry a
margin of at least the receptive field, so the tiled result equals the whole-image result
while memory stays bounded by the tile size.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .io import from_float, pil_to_array, to_float
from .noise import estimate_sigma

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
) -> torch.Tensor:
    """Denoise (B, C, H, W) float (any range) with `sigma_map` (B, 1, H, W) or (B, 1, 1, 1) in
    [0, 1] units; returns (B, C, H, W) float, unclipped. `tile=None` processes the whole image."""
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
        if tile is None or max(x.shape[-2:]) <= tile + 2 * margin:
            out = model(x, s)
            if progress:
                progress(1, 1)
        else:
            out = _tiled(x, s, model, _round_up(tile, stride), margin, progress)
    finally:
        model.train(was_training)
    return out[..., :height, :width]


def _tiled(x, s, model, tile: int, margin: int, progress: ProgressFn | None) -> torch.Tensor:
    height, width = x.shape[-2:]
    out = torch.empty_like(x)
    origins = [(y, x0) for y in range(0, height, tile) for x0 in range(0, width, tile)]
    for done, (y0, x0) in enumerate(origins, 1):
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        ya, xa = max(y0 - margin, 0), max(x0 - margin, 0)
        yb, xb = min(y1 + margin, height), min(x1 + margin, width)
        window = model(x[..., ya:yb, xa:xb], None if s is None else s[..., ya:yb, xa:xb])
        out[..., y0:y1, x0:x1] = window[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        if progress:
            progress(done, len(origins))
    return out


def _self_ensemble(x, model, sigma_map, tile, progress: ProgressFn | None) -> torch.Tensor:
    """Mean over the 8 dihedral transforms (4 rotations x optional flip), each undone afterwards."""
    total = torch.zeros_like(x)
    for index, (turns, flip) in enumerate((t, f) for f in (False, True) for t in range(4)):
        view = torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))
        out = torch.rot90(denoise_tensor(view, model, sigma_map, tile), -turns, dims=(-2, -1))
        total += out.flip(-1) if flip else out
        if progress:
            progress(index + 1, 8)
    return total / 8


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def denoise(
    image: np.ndarray | Image.Image,
    model: torch.nn.Module,
    sigma: float | None = None,
    tile: int | None = DEFAULT_TILE,
    progress: ProgressFn | None = None,
    strength: float = 1.0,
    ensemble: bool = False,
) -> np.ndarray | Image.Image:
    """Denoise one image at full resolution and return it in the input's shape and dtype.

    image: PIL image, or array (H, W), (H, W, 1|2|3|4) of uint8, uint16 or float. Floats are
    nominally in [0, 1] and are not clipped on the way in (an unclipped noisy input is valid).
    Alpha (LA / RGBA) passes through untouched. sigma: noise level on the 0-255 scale whatever
    the bit depth; None estimates it from the image. strength in [0, 1] blends the input back in
    (1: full denoising; lower keeps more texture and grain), the control for blind models that
    take no sigma. ensemble=True averages the 8 flips/rotations of the image (self-ensemble):
    a slower "max quality" mode, about 8x the time. Float output is clipped to [0, 1].
    """
    as_pil = isinstance(image, Image.Image)
    array = pil_to_array(image) if as_pil else np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 1-4), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"the image is empty: shape {array.shape}")
    values = to_float(array)
    if not np.isfinite(values).all():
        raise ValueError("the image contains NaN or infinite values")
    planes = values if values.ndim == 3 else values[..., None]
    alpha = None
    if planes.shape[2] in (2, 4):
        planes, alpha = planes[..., :-1], planes[..., -1:]
    if not (isinstance(strength, numbers.Real) and 0 <= strength <= 1):
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    if model.config.noise_map:
        sigma = estimate_sigma(planes) if sigma is None else check_sigma(sigma)
    elif sigma is not None:
        check_sigma(sigma)  # validated, but a blind model does not use it

    device = _model_device(model)
    channels = model.config.channels
    x = torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))[None].to(device)  # (1, c, H, W)
    map_sigma = sigma
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # gray through a colour model: denoise copies, average back
        # The copies carry identical noise, so their luminance holds all of it (std sigma) where
        # independent per-channel noise would leave sigma / sqrt(3); the model is calibrated on the
        # latter, so tell it sqrt(3) sigma (+5 dB on BSD68, sigma 25).
        map_sigma = None if sigma is None else sigma * math.sqrt(3)
    elif channels == 1 and x.shape[1] == 3:
        x = x.transpose(0, 1)  # colour through a gray model: channels as a batch, (3, 1, H, W)
    sigma_map = torch.full((x.shape[0], 1, 1, 1), map_sigma / 255.0, device=device) if model.config.noise_map else None
    if ensemble:
        out = _self_ensemble(x, model, sigma_map, tile, progress)
    else:
        out = denoise_tensor(x, model, sigma_map, tile, progress)
    if strength < 1:
        out = x + strength * (out - x)
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
    if alpha is not None and not np.issubdtype(array.dtype, np.floating):
        result[..., -1] = array[..., -1]  # alpha bit-exact, not round-tripped through float
    return Image.fromarray(result) if as_pil else result
