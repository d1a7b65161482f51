"""Phone-camera noise for training: measured sensor levels, real tone curves, in-camera denoising,
sharpening and JPEG, each step a parameter of one seeded noise model (`Phone`).

A phone photo's noise is not white: it starts as Poisson-Gaussian noise in linear raw (levels from
SIDD's per-phone noise-level functions, far higher than a DSLR's at ISO 3200), is demosaicked
(neighbours correlate), bent by the camera's tone curve (darks noisier), then the phone's own noise
reduction removes most high-frequency chroma noise and some luma noise, leaving low-frequency colour
blotches, and its sharpening boosts what high-frequency noise is left; JPEG last. A denoiser trained
on white noise needs a higher level than this noise's std to remove it, so the photo model's
estimator is trained through the denoiser on it.

As in `denoiser.degrade.Raw`, the clean signal stays exact: only the noise path is processed, so
the target is the clean image itself and the network learns to remove noise, not to undo a pipeline.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from denoiser.degrade import (bilinear_demosaic, camera_matrix, check_quality, check_range, inverse_tone, jpeg,
                              mosaic_noise, tone, white_balance_gains)


@dataclass(frozen=True)
class CameraTables:
    """`../shared/data/camera`: SIDD's phone noise-level functions {camera: [(iso, beta1, beta2)]} and
    the 201 DoRF camera response curves (irradiance -> brightness, and their inverses), each (201, 1024)."""

    nlf: dict[str, list[tuple[int, float, float]]]
    brightness: np.ndarray = field(repr=False)  # B[k]: brightness at irradiance grid i / 1023
    irradiance: np.ndarray = field(repr=False)  # invI[k]: irradiance at brightness grid i / 1023

    @classmethod
    def load(cls, folder: str | Path) -> "CameraTables":
        folder = Path(folder)
        nlf: dict[str, list[tuple[int, float, float]]] = {}
        with open(folder / "sidd_phone_nlf.csv", newline="") as f:
            for row in csv.DictReader(f):
                camera, iso = row["cam_iso"].split("_")
                nlf.setdefault(camera, []).append((int(iso), float(row["beta1"]), float(row["beta2"])))
        curves = np.load(folder / "camera_response_functions.npz")
        for name in ("I", "invB"):  # both grids must be uniform on [0, 1]: the curves are read by index
            grid = curves[name]
            if not np.allclose(grid, np.linspace(0, 1, grid.shape[1])[None], atol=1e-3):
                raise ValueError(f"{folder}: camera response grid {name} is not uniform on [0, 1]")
        return cls({k: sorted(v) for k, v in nlf.items()}, curves["B"].astype(np.float32),
                   curves["invI"].astype(np.float32))


def _lookup(curve: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A curve sampled on a uniform grid over [0, 1], linearly interpolated at x (clamped to [0, 1])."""
    position = x.clamp(0, 1) * (curve.numel() - 1)
    low = position.floor().long().clamp(max=curve.numel() - 2)
    frac = position - low
    return curve[low] * (1 - frac) + curve[low + 1] * frac


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (..., C, H, W), reflect-padded; sigma in pixels (0: unchanged)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    shape = x.shape
    flat = x.reshape(-1, 1, *shape[-2:])
    mode = "reflect" if min(shape[-2:]) > radius else "replicate"
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode=mode), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode=mode), kernel.view(1, 1, -1, 1))
    return flat.reshape(shape)


def mhc_demosaic(mosaic: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sparse RGGB samples -> full colour by Malvar, He and Cutler's gradient-corrected
    linear interpolation (ICASSP 2004): each missing value is its bilinear estimate plus a share of
    the sampled channel's Laplacian, so it keeps far more high frequency (and fine noise) than
    `bilinear_demosaic`; exact on smooth (locally linear) images like it."""
    g_at_rb = [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]]
    row = [[0, 0, .5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, .5, 0, 0]]
    diag = [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]]
    k = torch.tensor([g_at_rb, row, list(map(list, zip(*row))), diag], dtype=mosaic.dtype, device=mosaic.device) / 8
    shape = mosaic.shape
    m = mosaic.reshape(-1, 3, *shape[-2:]).sum(1, keepdim=True)
    f = F.conv2d(F.pad(m, (2, 2, 2, 2), mode="reflect"), k[:, None])  # (N, 4, H, W)
    g_rb, at_row, at_col, at_diag = f.unbind(1)
    m = m[:, 0]
    out = torch.empty(m.shape[0], 3, *shape[-2:], dtype=m.dtype, device=m.device)
    r, g, b = out[:, 0], out[:, 1], out[:, 2]
    # RGGB: R at (0, 0), G at (0, 1) (R row) and (1, 0) (B row), B at (1, 1)
    for dst, sites in ((r, {(0, 0): m, (0, 1): at_row, (1, 0): at_col, (1, 1): at_diag}),
                       (g, {(0, 0): g_rb, (0, 1): m, (1, 0): m, (1, 1): g_rb}),
                       (b, {(0, 0): at_diag, (0, 1): at_col, (1, 0): at_row, (1, 1): m})):
        for (i, j), src in sites.items():
            dst[:, i::2, j::2] = src[:, i::2, j::2]
    return out.reshape(shape)


def sensor_noise(raw: torch.Tensor, shot: float, read: float, generator: torch.Generator | None,
                 sharpness: float = 0.0) -> torch.Tensor:
    """`denoiser.degrade.mosaic_noise` demosaicked (..., 3, H, W): sharpness in [0, 1] blends bilinear (0,
    as `denoiser.degrade.sensor_noise`) and gradient-corrected (1, `mhc_demosaic`) demosaicking:
    cameras differ, and the second leaves whiter noise."""
    sparse, masks = mosaic_noise(raw, shot, read, generator)  # one draw for both demosaickers
    smooth = bilinear_demosaic(sparse, masks)
    return smooth if sharpness <= 0 else smooth + sharpness * (mhc_demosaic(sparse) - smooth)


# Opponent colour: luma and two chroma differences, an orthonormal basis of RGB.
_OPPONENT = torch.tensor([[1 / math.sqrt(3)] * 3,
                          [1 / math.sqrt(2), 0.0, -1 / math.sqrt(2)],
                          [1 / math.sqrt(6), -2 / math.sqrt(6), 1 / math.sqrt(6)]], dtype=torch.float64)


def in_camera_denoise(noise: torch.Tensor, luma: float, chroma_sigma: float) -> torch.Tensor:
    """A phone's noise reduction applied to processed noise (..., 3, H, W): `luma` in [0, 1] of the
    high-frequency luma noise removed, and the chroma noise low-passed with a Gaussian of
    `chroma_sigma` px, which leaves the low-frequency colour blotches phone photos show."""
    basis = _OPPONENT.to(noise)
    opp = torch.einsum("ij,...jhw->...ihw", basis, noise)
    y, chroma = opp[..., :1, :, :], opp[..., 1:, :, :]
    y = y - luma * (y - gaussian_blur(y, 1.0))
    chroma = gaussian_blur(chroma, chroma_sigma)
    return torch.einsum("ji,...jhw->...ihw", basis, torch.cat([y, chroma], dim=-3))


def sharpen(noise: torch.Tensor, amount: float, radius: float = 1.0) -> torch.Tensor:
    """Unsharp mask: x + amount * (x - blur(x)); on noise it boosts the high frequencies."""
    return noise + amount * (noise - gaussian_blur(noise, radius)) if amount > 0 else noise


@dataclass(frozen=True)
class Phone:
    """Phone camera noise (see the module docstring).

    shot, read: raw-domain variance = shot * x + read (x linear in [0, 1]); curve: a camera response
    curve (brightness sampled at irradiance i / 1023) and its inverse, or None for the smoothstep +
    gamma 2.2 of `Raw`; red_gain, blue_gain, brightness, mix: white balance, exposure gain and colour
    matrix as in `Raw`; demosaic in [0, 1]: bilinear (0) to gradient-corrected (1) demosaicking, see
    `sensor_noise`; nr_luma in [0, 1], nr_chroma (px): the phone's noise reduction; sharpen: its
    unsharp-mask amount; jpeg_quality: JPEG after the 8-bit rounding, or None.
    """

    shot: float
    read: float
    curve: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    red_gain: float = 2.0
    blue_gain: float = 1.7
    brightness: float = 1.0
    mix: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    demosaic: float = 0.0
    nr_luma: float = 0.0
    nr_chroma: float = 0.0
    sharpen: float = 0.0
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        check_range("shot", self.shot, 0.0, 1.0)
        check_range("read", self.read, 0.0, 1.0)
        check_range("red_gain", self.red_gain, 0.5, 4.0)
        check_range("blue_gain", self.blue_gain, 0.5, 4.0)
        check_range("brightness", self.brightness, 0.25, 8.0)
        check_range("demosaic", self.demosaic, 0.0, 1.0)
        check_range("nr_luma", self.nr_luma, 0.0, 1.0)
        check_range("nr_chroma", self.nr_chroma, 0.0, 8.0)
        check_range("sharpen", self.sharpen, 0.0, 3.0)
        object.__setattr__(self, "mix", tuple(float(m) for m in self.mix))
        if len(self.mix) != 4 or min(self.mix) < 0 or sum(self.mix) <= 0:
            raise ValueError(f"mix needs 4 non-negative weights, not all zero; got {self.mix}")
        if self.curve is not None and (len(self.curve) != 2 or any(np.ndim(c) != 1 or len(c) < 2 for c in self.curve)):
            raise ValueError("curve must be (brightness at uniform irradiance, irradiance at uniform brightness)")
        check_quality(self.jpeg_quality)

    def _to_linear(self, y: torch.Tensor) -> torch.Tensor:
        if self.curve is None:
            return inverse_tone(y).clamp_min(1e-8) ** 2.2
        return _lookup(torch.as_tensor(self.curve[1], dtype=y.dtype, device=y.device), y)

    def _to_display(self, x: torch.Tensor) -> torch.Tensor:
        if self.curve is None:
            return tone(x.clamp_min(1e-8) ** (1 / 2.2))
        return _lookup(torch.as_tensor(self.curve[0], dtype=x.dtype, device=x.device), x)

    def _gains(self, y: torch.Tensor) -> torch.Tensor:
        return white_balance_gains(self.red_gain, self.blue_gain, self.brightness, y)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """y (..., 3, H, W) clean sRGB in [0, 1] -> the noisy photo, 8-bit values (JPEG'd if set)."""
        if y.shape[-3] != 3:
            raise ValueError("phone camera noise needs RGB images (3 channels)")
        rgb_to_cam = camera_matrix(self.mix).to(y)
        cam_to_rgb = torch.linalg.inv(camera_matrix(self.mix)).to(y)
        linear = torch.einsum("ij,...jhw->...ihw", rgb_to_cam, self._to_linear(y))
        raw = (linear / self._gains(y)).clamp(0, 1)

        def process(r: torch.Tensor) -> torch.Tensor:
            return self._to_display(torch.einsum("ij,...jhw->...ihw", cam_to_rgb, r * self._gains(r)).clamp(0, 1))

        processed = process(raw + sensor_noise(raw, self.shot, self.read, generator, self.demosaic)) - process(raw)
        processed = sharpen(in_camera_denoise(processed, self.nr_luma, self.nr_chroma), self.sharpen)
        x = ((y + processed).clamp(0, 1) * 255).round() / 255
        return jpeg(x, self.jpeg_quality) if self.jpeg_quality else x


def sample_phone(shot: float, rng: np.random.Generator, tables: CameraTables | None,
                 jpeg_probability: float = 0.7, fine: bool = False) -> Phone:
    """A random phone for shot-noise level `shot`: read noise from a random SIDD phone's noise-level
    function at that shot level (log-log interpolation, x lognormal(0, 0.3)); one of the 201 real
    tone curves (or smoothstep + gamma without tables); noise reduction, sharpening and JPEG
    (quality 70-97, as phones save) drawn over the ranges phone pipelines use.

    Against SIDD12's real noise (medians of chroma/luma std, neighbour correlation, power share above
    half Nyquist: 0.62 / 0.48 / 0.34; tools/noise_stats.py), over 5 draws on each of its 12 clean images:
    fine=False (noise kind `phone`, photo v2's training noise: bilinear demosaicking, chroma smoothing
    0.5-2 px) gives 0.71 / 0.67 / 0.15, far smoother than a phone's; fine=True (`phone-fine`:
    gradient-corrected demosaicking blended in, `Phone.demosaic` 0.25-0.75, chroma smoothing 0.25-1 px)
    gives 0.63 / 0.54 / 0.29."""
    if tables is not None:
        camera = sorted(tables.nlf)[int(rng.integers(len(tables.nlf)))]
        rows = tables.nlf[camera]
        log_read = np.interp(np.log(shot), [math.log(r[1]) for r in rows], [math.log(r[2]) for r in rows])
        k = int(rng.integers(len(tables.brightness)))
        curve = (tables.brightness[k], tables.irradiance[k])
    else:
        log_read, curve = 2.18 * math.log(shot) + 1.2, None
    read = float(np.exp(log_read + rng.normal(0, 0.3)))
    phone = Phone(
        shot=shot,
        read=min(read, 1.0),
        curve=curve,
        red_gain=float(rng.uniform(1.6, 2.6)),
        blue_gain=float(rng.uniform(1.3, 2.2)),
        brightness=float(np.exp(rng.uniform(np.log(0.8), np.log(2.5)))),  # dim scenes are pushed brighter
        mix=tuple(float(v) for v in rng.uniform(0, 1, 4) + 1e-3),
        nr_luma=float(rng.uniform(0, 0.4)),
        nr_chroma=float(rng.uniform(0.5, 2.0)) if rng.random() < 0.8 else 0.0,
        sharpen=float(rng.uniform(0.5, 3.0)) if rng.random() < 0.8 else 0.0,
        jpeg_quality=int(rng.integers(70, 98)) if rng.random() < jpeg_probability else None,
    )
    if not fine:
        return phone
    return dataclasses.replace(phone, demosaic=float(rng.uniform(0.25, 0.75)), nr_chroma=phone.nr_chroma / 2)
