"""Learning from noisy photos alone: a blind-spot objective that holds for spatially correlated noise.

Camera sRGB noise is correlated over a few pixels (demosaicking, in-camera noise reduction, JPEG), so
Noise2Void/Noise2Self, which hide one pixel and predict it from its neighbours, would learn to copy the
noise the neighbours share. Following AP-BSN (Lee et al., CVPR 2022) we first take a pixel-shuffle
sub-image at stride s (every s-th pixel in each direction): its neighbours lie s pixels apart in the
photo, where the noise is close to independent. On that sub-image the Noise2Self recipe (Batson and
Royer, ICML 2019) is valid: a grid of pixels is replaced by the mean of its eight neighbours, the network
sees only that, and the loss compares its output with the noisy value at those pixels alone. Because the
network never sees the noise of a masked pixel, the cheapest way to predict it is to predict the clean
value: E|f - y|^2 = E|f - x|^2 + sigma^2. Each sub-image goes through the network as its own batch item,
so no other phase (whose pixels do share noise) is visible.

Our network is a plain encoder-decoder, not a blind-spot network, so it is trained this way and runs
unchanged at test time; the supervised synthetic terms keep it anchored at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from denoiser.io import read_image
from denoiser.model import image_level

from .data import _as_channels, _geometric, _to_tensor
from .noisy_folders import noisy_paths

# The eight neighbours' mean, without the centre: what a masked pixel is replaced by.
_DONUT = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]) / 8


@dataclass
class NoisyImage:
    """A noisy photo without a reference: (H, W, C) uint8 or uint16."""

    name: str
    image: np.ndarray


def load_noisy(folder: str | Path, channels: int, min_size: int, split: str = "all") -> list[NoisyImage]:
    """Every noisy image of a folder (see `noisy_paths`), as `channels` planes; images too small for one
    training sub-image are left out with a note, and a folder with none big enough is an error."""
    images = [NoisyImage(str(p), _as_channels(read_image(p), channels)) for p in noisy_paths(folder, split)]
    small = [i for i in images if min(i.image.shape[:2]) < min_size]
    if len(small) == len(images):
        raise ValueError(f"{folder}: every image is smaller than {min_size} px (--patch x --pd-stride)")
    if small:
        print(f"{folder}: left out {len(small)} images smaller than {min_size} px", flush=True)
    return [i for i in images if min(i.image.shape[:2]) >= min_size]


def mask_grid(size: int, every: int, offset: tuple[int, int]) -> torch.Tensor:
    """(1, size, size) bool: the pixels whose row and column are `offset` modulo `every`."""
    rows = (torch.arange(size) % every == offset[0]).view(-1, 1)
    cols = (torch.arange(size) % every == offset[1]).view(1, -1)
    return (rows & cols).unsqueeze(0)


def hide(sub_image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Replace the masked pixels of (C, H, W) by the mean of their eight neighbours (reflected at the
    border). With masked pixels at least 2 apart, no neighbour is itself masked, so the result at a
    masked pixel does not depend on that pixel's value."""
    c = sub_image.shape[0]
    padded = F.pad(sub_image.unsqueeze(0), (1, 1, 1, 1), mode="reflect")
    around = F.conv2d(padded, _DONUT.to(sub_image).expand(c, 1, 3, 3), groups=c)[0]
    return torch.where(mask, around, sub_image)


@dataclass(frozen=True)
class NoisyBatchMaker:
    """Sample i at a step: a random crop of s*q pixels from a noisy photo, flipped and turned, of which one
    pixel-shuffle phase (a q x q sub-image) is taken, and a grid of 1/every**2 of its pixels hidden.
    A pure function of (seed, step, i), like the supervised batches."""

    images: tuple[NoisyImage, ...]
    patch: int  # q: the sub-image side the network sees
    stride: int  # s: the pixel-shuffle stride
    every: int = 4  # the mask grid's period: 1/16 of the pixels are hidden
    flips: bool = True
    seed: int = 0

    def sample(self, step: int, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(hidden input (C, q, q), noisy target (C, q, q), mask (1, q, q)) in [0, 1] units."""
        rng = np.random.default_rng([self.seed, step, index, 7])  # 7: apart from the supervised streams
        photo = self.images[int(rng.integers(len(self.images)))].image
        span = self.patch * self.stride
        h, w = photo.shape[:2]
        y, x = int(rng.integers(h - span + 1)), int(rng.integers(w - span + 1))
        crop = _to_tensor(photo[y:y + span, x:x + span])
        if self.flips:  # the geometry of the photo, before sub-sampling, so the phase grid stays aligned
            crop = _geometric(crop, rng.integers(2, size=2), int(rng.integers(4)))
        a, b = (int(v) for v in rng.integers(self.stride, size=2))
        target = crop[:, a::self.stride, b::self.stride]
        mask = mask_grid(self.patch, self.every, tuple(int(v) for v in rng.integers(self.every, size=2)))
        return hide(target, mask), target, mask

    def batch(self, step: int, indices: range) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        samples = [self.sample(step, i) for i in indices]
        return tuple(torch.stack(parts) for parts in zip(*samples))


def blind_spot_loss(wrapped, hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                    kind: str = "mse", level: str = "white") -> torch.Tensor:
    """The masked loss: the network denoises the hidden sub-images and is scored at the hidden pixels
    only, against their noisy values. The level a noise-map model is given, from the hidden input alone
    and without gradient (this term teaches the denoiser, not the level): "white", the wavelet estimate,
    since a sub-image's noise is near white and denoise()'s white-noise check gives white noise that
    level; or "learned", the estimator's median. `wrapped` may be a DistributedDataParallel module: it is
    called, so gradients are synchronised."""
    network = getattr(wrapped, "module", wrapped)
    if not network.config.noise_map:
        output = wrapped(hidden)
    elif level == "white":
        output = wrapped(hidden, white_levels(hidden))
    elif getattr(network, "estimator", None) is not None:
        with torch.no_grad():
            estimated = image_level(network.estimator(hidden))
        output = wrapped(hidden, estimated)
    else:
        raise ValueError("--noisy-level learned needs a model with a noise estimator (e.g. --preset photo)")
    error = (output - target)[mask.expand_as(target)]
    return error.abs().mean() if kind == "l1" else error.pow(2).mean()


def white_levels(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, 1) wavelet white-noise estimates, in [0, 1] units, of (B, C, H, W) images."""
    from denoiser.noise import estimate_sigma

    planes = images.detach().float().cpu().permute(0, 2, 3, 1).numpy()
    levels = [estimate_sigma(p) / 255 for p in planes]
    return torch.tensor(levels, dtype=images.dtype, device=images.device).view(-1, 1, 1, 1)
