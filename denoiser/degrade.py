"""Realistic photo degradations, each a seeded noise model: the noise kinds `color-gaussian` and `raw`
of `denoiser.noise.make_noise` (add-noise, the app's examples) and of the photo model's training.

- `ColorGaussian`: Gaussian noise whose channels are correlated (as after a camera's colour
  matrix) and, optionally, spatially correlated by a resize (Zhang et al., "Practical Blind
  Image Denoising via Swin-Conv-UNet and Data Synthesis", 2023), then optional JPEG.
- `Raw`: Poisson-Gaussian sensor noise added in linear raw after "unprocessing" the sRGB image
  (inverse tone curve, inverse gamma, inverse colour matrix and white-balance gains, RGGB
  mosaic), demosaicked and processed back (Brooks et al., "Unprocessing Images for Learned Raw
  Denoising", CVPR 2019), then 8-bit rounding and optional JPEG.

Both keep the clean signal exact and degrade only the noise path: the noisy image is
y + (process(raw + n) - process(raw)), so a network learns to remove noise, not to undo a
camera pipeline's blur. All randomness comes from the `torch.Generator` (noise) and from the
fields (camera parameters, drawn by a seeded sampler such as `sample_raw`), so a sample is reproducible.
The trainer's own samplers and its phone pipeline live in `denoiser_train` (`data`, `phone`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# Brooks et al.'s four camera XYZ->camera matrices; a random convex mix gives a plausible camera.
_XYZ_TO_CAM = torch.tensor([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
], dtype=torch.float64)
_RGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                            [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float64)


def check_range(name: str, value: float, low: float, high: float = math.inf) -> float:
    """`value` as a float, or ValueError naming the parameter when it is not finite or not in [low, high]."""
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value}")
    return value


def check_quality(quality: int | None) -> None:
    if quality is not None and not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg_quality must be in [1, 100], got {quality}")


def _randn(shape: tuple, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of (..., 3|1, H, W) in [0, 1] at `quality` (4:2:0 chroma, as phones write)."""
    import io

    from PIL import Image

    flat = x.reshape(-1, *x.shape[-3:])
    out = []
    for image in flat:
        array = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        buffer = io.BytesIO()
        Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(buffer, format="JPEG", quality=int(quality))
        decoded = np.asarray(Image.open(buffer)).reshape(array.shape)
        out.append(torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(x.dtype) / 255)
    return torch.stack(out).reshape(x.shape).to(x.device)


def resize_correlated(noise: torch.Tensor, scale: float) -> torch.Tensor:
    """White noise (..., C, H, W) -> spatially correlated noise of the same std: drawn at `scale`
    of the size and upsampled bicubically, as noise looks after a photo was downscaled and the
    viewer enlarged it. scale 1 returns the input."""
    if scale >= 1:
        return noise
    height, width = noise.shape[-2:]
    flat = noise.reshape(-1, *noise.shape[-3:])
    small = flat[..., : max(2, round(height * scale)), : max(2, round(width * scale))]
    up = F.interpolate(small, size=(height, width), mode="bicubic", align_corners=False)
    up = up * (small.std() / up.std().clamp_min(1e-12))
    return up.reshape(noise.shape)


@dataclass(frozen=True)
class ColorGaussian:
    """Gaussian noise of std sigma (0-255 scale) per channel, channel correlation `rho` (0: white,
    1: identical in every channel), drawn at `scale` of the size (< 1: spatially correlated), then
    clipped to [0, 1] and JPEG-compressed at `jpeg_quality` when given."""

    sigma: float
    rho: float = 0.0
    scale: float = 1.0
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        check_range("sigma", self.sigma, 0.0, 255.0)
        check_range("rho", self.rho, 0.0, 1.0)
        check_range("scale", self.scale, 0.05, 1.0)
        check_quality(self.jpeg_quality)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        shared = _randn((*y.shape[:-3], 1, *y.shape[-2:]), y, generator)
        own = _randn(y.shape, y, generator)
        noise = math.sqrt(self.rho) * shared + math.sqrt(1 - self.rho) * own
        noise = resize_correlated(noise, self.scale) * (self.sigma / 255.0)
        x = y + noise
        return jpeg(x, self.jpeg_quality) if self.jpeg_quality else x.clamp(0, 1)


# ---------------------------------------------------------------- the camera pipeline

def camera_matrix(weights: tuple[float, ...]) -> torch.Tensor:
    """sRGB -> camera RGB (3, 3): a convex mix of Brooks et al.'s matrices, rows normalised to 1
    so white stays white before the white-balance gains."""
    w = torch.tensor(weights, dtype=torch.float64)
    xyz_to_cam = (w[:, None, None] * _XYZ_TO_CAM).sum(0) / w.sum()
    rgb_to_cam = xyz_to_cam @ _RGB_TO_XYZ
    return rgb_to_cam / rgb_to_cam.sum(1, keepdim=True)


def inverse_tone(y: torch.Tensor) -> torch.Tensor:
    """Inverse of the smoothstep tone curve 3x^2 - 2x^3."""
    return 0.5 - torch.sin(torch.asin((1 - 2 * y.clamp(0, 1))) / 3)


def tone(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return 3 * x**2 - 2 * x**3


def bayer_masks(height: int, width: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """(3, H, W) RGGB sampling masks."""
    masks = torch.zeros(3, height, width, dtype=dtype, device=device)
    masks[0, 0::2, 0::2] = 1
    masks[1, 0::2, 1::2] = 1
    masks[1, 1::2, 0::2] = 1
    masks[2, 1::2, 1::2] = 1
    return masks


def bilinear_demosaic(mosaic: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sparse RGGB samples -> full colour by normalised bilinear interpolation."""
    kernel = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=mosaic.dtype,
                          device=mosaic.device).expand(3, 1, 3, 3)
    shape = mosaic.shape
    flat = mosaic.reshape(-1, 3, *shape[-2:])
    num = F.conv2d(F.pad(flat, (1, 1, 1, 1), mode="reflect"), kernel, groups=3)
    den = F.conv2d(F.pad(masks[None], (1, 1, 1, 1), mode="reflect"), kernel, groups=3)
    return (num / den).reshape(shape)


@dataclass(frozen=True)
class Raw:
    """Sensor noise through an unprocessed camera pipeline (see the module docstring).

    shot, read: Poisson-Gaussian variance parameters on linear raw values in [0, 1]
    (variance = shot * x + read). red_gain, blue_gain: white-balance gains; brightness: the
    exposure gain applied when processing (> 1: the raw was darker, so noisier); mix: weights of
    the four camera matrices; jpeg_quality: JPEG after the 8-bit rounding, or None.
    """

    shot: float
    read: float
    red_gain: float = 2.1
    blue_gain: float = 1.7
    brightness: float = 1.25
    mix: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    jpeg_quality: int | None = None
    blotch: int = 1  # > 1: the processed noise is averaged over blotch x blotch blocks and smoothly upsampled (its
    # level kept), as a phone's own noise reduction and sharpening leave low-frequency, blotchy colour noise

    def __post_init__(self) -> None:
        check_range("shot", self.shot, 0.0, 1.0)
        if int(self.blotch) != self.blotch or not 1 <= self.blotch <= 8:
            raise ValueError(f"blotch must be an integer block size in [1, 8], got {self.blotch}")
        check_range("read", self.read, 0.0, 1.0)
        check_range("red_gain", self.red_gain, 0.5, 4.0)
        check_range("blue_gain", self.blue_gain, 0.5, 4.0)
        check_range("brightness", self.brightness, 0.5, 4.0)
        object.__setattr__(self, "mix", tuple(float(m) for m in self.mix))
        if len(self.mix) != 4 or min(self.mix) < 0 or sum(self.mix) <= 0:
            raise ValueError(f"mix needs 4 non-negative weights, not all zero; got {self.mix}")
        check_quality(self.jpeg_quality)

    def _matrices(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgb_to_cam = camera_matrix(self.mix)
        return rgb_to_cam.to(y), torch.linalg.inv(rgb_to_cam).to(y)

    def _gains(self, y: torch.Tensor) -> torch.Tensor:
        return white_balance_gains(self.red_gain, self.blue_gain, self.brightness, y)

    def unprocess(self, y: torch.Tensor) -> torch.Tensor:
        """sRGB (..., 3, H, W) in [0, 1] -> linear camera RGB (before mosaicking)."""
        rgb_to_cam, _ = self._matrices(y)
        linear = inverse_tone(y).clamp_min(1e-8) ** 2.2
        cam = torch.einsum("ij,...jhw->...ihw", rgb_to_cam, linear)
        return (cam / self._gains(y)).clamp(0, 1)

    def process(self, raw: torch.Tensor) -> torch.Tensor:
        _, cam_to_rgb = self._matrices(raw)
        rgb = torch.einsum("ij,...jhw->...ihw", cam_to_rgb, raw * self._gains(raw)).clamp(0, 1)
        return tone(rgb.clamp_min(1e-8) ** (1 / 2.2))

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if y.shape[-3] != 3:
            raise ValueError("raw camera noise needs RGB images (3 channels)")
        raw = self.unprocess(y)
        noisy_raw = raw + sensor_noise(raw, self.shot, self.read, generator)
        x = (y + blotchy(self.process(noisy_raw) - self.process(raw), int(self.blotch))).clamp(0, 1)
        x = (x * 255).round() / 255  # an 8-bit photo
        return jpeg(x, self.jpeg_quality) if self.jpeg_quality else x


def white_balance_gains(red: float, blue: float, brightness: float, like: torch.Tensor) -> torch.Tensor:
    """(3, 1, 1) per-channel gains from camera RGB to white-balanced, exposed RGB."""
    return torch.tensor([red, 1.0, blue], dtype=like.dtype, device=like.device)[:, None, None] * brightness


def mosaic_noise(raw: torch.Tensor, shot: float, read: float,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Poisson-Gaussian noise (variance shot * x + read) drawn on the RGGB mosaic of linear camera RGB
    (..., 3, H, W): (the samples in their own channel, zero elsewhere (..., 3, H, W); the (3, H, W)
    masks), for a demosaicker. Only the noise is mosaicked, so the signal stays exact."""
    masks = bayer_masks(*raw.shape[-2:], raw.dtype, raw.device)
    mosaic = (raw * masks).sum(-3, keepdim=True)  # one sample per pixel
    noise = (shot * mosaic + read).sqrt() * _randn(mosaic.shape, raw, generator)
    return noise * masks, masks


def sensor_noise(raw: torch.Tensor, shot: float, read: float, generator: torch.Generator | None) -> torch.Tensor:
    """`mosaic_noise` bilinearly demosaicked (..., 3, H, W): the noise gets the camera's correlation."""
    return bilinear_demosaic(*mosaic_noise(raw, shot, read, generator))


def blotchy(noise: torch.Tensor, block: int) -> torch.Tensor:
    """Noise (..., C, H, W) averaged over block x block cells, upsampled bicubically and rescaled to
    the input's std: low-frequency blotches whose local level follows the original's (unlike
    `resize_correlated`, which samples one corner). block 1 returns the input."""
    if block <= 1:
        return noise
    height, width = noise.shape[-2:]
    flat = noise.reshape(-1, *noise.shape[-3:])
    pad_h, pad_w = -height % block, -width % block
    padded = F.pad(flat, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else flat
    low = F.avg_pool2d(padded, block)
    up = F.interpolate(low, scale_factor=block, mode="bicubic", align_corners=False)[..., :height, :width]
    up = up * (flat.std() / up.std().clamp_min(1e-12))
    return up.reshape(noise.shape)


# Here, not in denoiser_train: the app's example photos draw their camera from it too.
def sample_raw(shot: float, rng: np.random.Generator, jpeg_probability: float = 0.5) -> Raw:
    """A random camera for shot-noise level `shot` (read noise tied to it as measured over real
    sensors by Brooks et al.: log read = 2.18 log shot + 1.2 + N(0, 0.26)); JPEG quality 30-95
    with the given probability."""
    read = float(np.exp(2.18 * np.log(shot) + 1.2 + rng.normal(0, 0.26)))
    return Raw(
        shot=shot,
        read=min(read, 1.0),
        red_gain=float(rng.uniform(1.9, 2.4)),
        blue_gain=float(rng.uniform(1.5, 1.9)),
        brightness=float(np.clip(1 / rng.normal(0.8, 0.1), 0.5, 4.0)),
        mix=tuple(float(v) for v in rng.uniform(0, 1, 4) + 1e-3),
        jpeg_quality=int(rng.integers(30, 96)) if rng.random() < jpeg_probability else None,
        blotch=int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])),
    )
