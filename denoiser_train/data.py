"""Training data: image folders, scene-wise validation split, and deterministic patch batches.

Sample i of the global batch at step s is drawn from a generator seeded with (seed, s, i), so
a batch is a pure function of the step: resuming, or splitting a batch over DDP ranks, gives
exactly the same data as one uninterrupted process.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from denoiser.splits import draw_held_out, held_out, pair_paths, scene_of
from denoiser.io import IMAGE_SUFFIXES, read_image
from denoiser.degrade import ColorGaussian, sample_raw
from denoiser.noise import make_noise

from .noise_fit import FittedNoise
from .phone import CameraTables, Phone, sample_phone

# ------------------------------------------------------------------ noise specification

_DEFAULT_RANGES = {"gaussian": (0.0, 75.0), "poisson": (2.0, 200.0), "salt-pepper": (0.0, 0.1),
                   "mask": (0.0, 0.3), "nlf": (1e-4, 2e-2), "camera": (1e-4, 1.2e-2),
                   "color-gaussian": (0.0, 75.0), "raw": (1e-4, 1.2e-2), "phone": (2e-4, 2e-2),
                   "phone-fine": (2e-4, 2e-2), "fitted": (0.8, 1.25)}
_PARAM = {"gaussian": "sigma", "poisson": "peak", "salt-pepper": "amount", "mask": "fraction", "nlf": "beta1",
          "camera": "beta1", "color-gaussian": "sigma", "raw": "shot", "phone": "shot", "phone-fine": "shot", "fitted": "gain"}
_SCALE_KINDS = ("poisson", "nlf", "camera", "raw", "phone", "phone-fine", "fitted")  # scale parameters: drawn log-uniformly


@dataclass(frozen=True)
class NoiseSpec:
    """A weighted mix of noise kinds, each with a parameter range, parsed from e.g.
    "gaussian:0-75@3,nlf@1" (sigma on the 0-255 scale; poisson peak; salt-pepper amount;
    mask fraction; nlf beta1, with beta2 drawn log-uniformly in [1e-6, 2e-3]; camera: shot noise
    beta1 in linear light, with read noise, Bayer demosaicking and JPEG drawn as described in
    `_camera`; color-gaussian: sigma, with channel correlation, resize correlation and JPEG drawn
    by `sample_color_gaussian`; raw: shot noise through an unprocessed camera pipeline, the camera
    drawn by `denoiser.degrade.sample_raw`; phone: raw-domain shot noise through a phone's pipeline (SIDD noise-level functions, real tone curves, in-camera noise reduction,
    sharpening, JPEG), drawn by `denoiser_train.phone.sample_phone` from the camera tables; phone-fine: the
    same with finer-grained noise, its demosaicking and noise reduction matched to SIDD12's statistics;
    fitted: the noise measured on real noisy photos (`denoiser_train.noise_fit`, one model per photo, drawn
    at random), its std scaled by a gain, 0.8-1.25 by default)."""

    kinds: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    weights: tuple[float, ...]
    tables: CameraTables | None = dataclasses.field(default=None, compare=False, repr=False)
    fitted: tuple[FittedNoise, ...] = dataclasses.field(default=(), compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, camera_tables: str | Path | None = None,
              fitted: tuple[FittedNoise, ...] = ()) -> "NoiseSpec":
        """camera_tables: the folder of `CameraTables` (needed by `phone`); fitted: the noise models kind
        `fitted` draws from (`noise_fit.fit_folder`)."""
        kinds, ranges, weights = [], [], []
        for item in text.split(","):
            number = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"  # 0.5, 75, 1e-4
            match = re.fullmatch(rf"\s*([a-z-]+)(?::{number}-{number})?(?:@([\d.]+))?\s*", item)
            if not match or match.group(1) not in _DEFAULT_RANGES:
                raise ValueError(
                    f"bad noise spec {item!r}: expected KIND[:LOW-HIGH][@WEIGHT] with KIND in {sorted(_DEFAULT_RANGES)}"
                )
            kind, low, high, weight = match.groups()
            span = (float(low), float(high)) if low is not None else _DEFAULT_RANGES[kind]
            if not span[0] <= span[1] or not all(math.isfinite(v) for v in span):
                raise ValueError(f"bad range in noise spec {item!r}: LOW must be <= HIGH")
            if kind == "fitted":
                if not fitted or span[0] <= 0:
                    raise ValueError("noise kind 'fitted' needs noise measured on noisy photos (--noise-from DIR) "
                                     "and a gain range above 0")
            elif kind.startswith("phone"):
                Phone(shot=span[1], read=1e-6)  # checks the range's upper end is valid
            else:
                make_noise(kind, **_params(kind, span[1], 1e-6))
            kinds.append(kind)
            ranges.append(span)
            weights.append(float(weight) if weight else 1.0)
        if sum(weights) <= 0:
            raise ValueError(f"noise spec {text!r}: weights must not all be zero")
        tables = None
        if {"phone", "phone-fine"} & set(kinds):
            folder = Path(camera_tables) if camera_tables else default_camera_tables()
            if not (folder / "sidd_phone_nlf.csv").is_file():
                raise ValueError(f"noise kinds 'phone' and 'phone-fine' need the camera tables: {folder} has no sidd_phone_nlf.csv "
                                 "(pass --camera-tables DIR or set DENOISER_DATA)")
            tables = CameraTables.load(folder)
        return cls(tuple(kinds), tuple(ranges), tuple(w / sum(weights) for w in weights), tables, tuple(fitted))

    def sample(self, rng: np.random.Generator):
        """Draw a noise model (a frozen denoiser.noise object) for one patch."""
        index = int(rng.choice(len(self.kinds), p=self.weights))
        kind, (low, high) = self.kinds[index], self.ranges[index]
        if kind in _SCALE_KINDS and low > 0:
            value = float(np.exp(rng.uniform(np.log(low), np.log(high))))  # scale parameters: log-uniform
        else:
            value = float(rng.uniform(low, high))
        if kind == "fitted":
            model = self.fitted[int(rng.integers(len(self.fitted)))]
            return dataclasses.replace(model, gain=value, _roots=model._roots)  # shares the cached spectral roots
        if kind == "camera":
            return _camera(value, rng)
        if kind == "raw":
            return sample_raw(value, rng)
        if kind.startswith("phone"):
            return sample_phone(value, rng, self.tables, fine=kind == "phone-fine")
        if kind == "color-gaussian":
            return sample_color_gaussian(value, rng)
        beta2 = float(np.exp(rng.uniform(np.log(1e-6), np.log(2e-3))))
        return make_noise(kind, **_params(kind, value, beta2))


def default_camera_tables() -> Path:
    """$DENOISER_DATA/camera, else ../shared/data/camera beside the repository."""
    root = os.environ.get("DENOISER_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(root) / "camera"


def _camera(shot: float, rng: np.random.Generator):
    """Camera noise with read noise tied to shot noise as measured over real sensors (Brooks et al.,
    Unprocessing Images for Learned Raw Denoising, CVPR 2019: log read = 2.18 log shot + 1.2 +
    N(0, 0.26), both as variances); Bayer + demosaic 80% of the time; JPEG at
    quality 60-95 half the time."""
    read = float(np.exp(2.18 * np.log(shot) + 1.2 + rng.normal(0, 0.26)))
    bayer = bool(rng.random() < 0.8)
    quality = int(rng.integers(60, 96)) if rng.random() < 0.5 else None
    return make_noise("camera", beta1=shot, beta2=min(read, 1.0), bayer=bayer, jpeg_quality=quality)


def sample_color_gaussian(sigma: float, rng: np.random.Generator, jpeg_probability: float = 0.3,
                          resize_probability: float = 0.3) -> ColorGaussian:
    """Channel correlation uniform in [0, 1]; a resize correlation (scale 0.5-1) and JPEG 30-95 each
    with the given probability."""
    return ColorGaussian(
        sigma=sigma,
        rho=float(rng.uniform(0, 1)),
        scale=float(rng.uniform(0.5, 1.0)) if rng.random() < resize_probability else 1.0,
        jpeg_quality=int(rng.integers(30, 96)) if rng.random() < jpeg_probability else None,
    )


def _params(kind: str, value: float, beta2: float) -> dict:
    if kind == "raw":
        return {"shot": value, "read": beta2}
    return {"beta1": value, "beta2": beta2} if kind in ("nlf", "camera") else {_PARAM[kind]: value}


def noise_std_map(noise, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """The per-pixel noise std (1, H, W) in [0, 1] units that the model receives as its noise map."""
    luma = clean.mean(0, keepdim=True)
    name = type(noise).__name__
    if name == "Gaussian":
        return torch.full_like(luma, noise.sigma / 255)
    if name == "NLF":
        return noise.std(luma)
    if name == "Poisson":
        return (luma.clamp(0, 1) / noise.peak).sqrt()
    if name in ("Camera", "ColorGaussian", "Raw", "Phone", "FittedNoise"):  # no closed form after demosaicking, resizing, JPEG
        return local_noise_std(noisy, clean)
    return torch.full_like(luma, float((noisy - clean).pow(2).mean().sqrt()))  # impulse/mask: rms


def local_noise_std(noisy: torch.Tensor, clean: torch.Tensor, window: int = 9) -> torch.Tensor:
    """The per-pixel noise std (..., 1, H, W) of a pair: the RMS of noisy - clean over channels and
    a `window` x `window` neighbourhood. The noise map for degradations with no closed form."""
    squared = (noisy - clean).pow(2).mean(-3, keepdim=True)
    flat = squared.reshape(-1, 1, *squared.shape[-2:])
    pad = window // 2
    mode = "reflect" if min(flat.shape[-2:]) > pad else "replicate"
    local = F.avg_pool2d(F.pad(flat, (pad, pad, pad, pad), mode=mode), window, stride=1)
    return local.sqrt().reshape(squared.shape)


# ------------------------------------------------------------------ folders and splits

@dataclass
class Example:
    """One training image: clean (H, W, C) uint8/uint16 and, for real pairs, its noisy partner."""

    name: str
    scene: str
    clean: np.ndarray
    noisy: np.ndarray | None = None


def _as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    image = image[..., :3] if image.shape[2] in (3, 4) else image[..., :1]  # drop alpha
    if channels == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if channels == 1 and image.shape[2] == 3:
        luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.rint(luma)[..., None].astype(image.dtype)
    return image


def load_clean(folder: str | Path, channels: int, min_size: int, downscale_from: int = 0,
               split: str = "train") -> list[Example]:
    """Every image in a folder of clean images (sub-folders included), less a documented
    validation split (ImageNet-val, recognised by content: see `denoiser.splits.held_out`); with
    split="val", that validation split alone (all images for a folder without one).
    downscale_from > 0 halves (2x2 box filter) images whose short side is at least that, which
    averages away their own noise and JPEG artefacts: cleaner targets. Images still smaller than
    `min_size` are left out, with a note, when the folder has enough others."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if split not in ("train", "val"):
        raise ValueError(f"split must be train or val, got {split!r}")
    held = held_out(paths)  # by content: a parent folder or a link with another name holds them too
    if split == "val" and held:
        paths = [p for p in paths if p in held]
    else:
        paths = [p for p in paths if p not in held]
    examples = []
    for p in paths:
        image = _as_channels(read_image(p), channels)
        if downscale_from and min(image.shape[:2]) >= downscale_from:
            image = box_halve(image)
        examples.append(Example(str(p.relative_to(folder)), scene_of(p.name), image))
    if downscale_from:  # a mixed-size photo collection: small ones are expected, skip them
        small = [e for e in examples if min(e.clean.shape[:2]) < min_size]
        if small and len(small) < len(examples):
            print(f"{folder}: left out {len(small)} images smaller than the {min_size}px patch", flush=True)
            examples = [e for e in examples if min(e.clean.shape[:2]) >= min_size]
    return _check(examples, folder, min_size)


def box_halve(image: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8/uint16 -> (H//2, W//2, C) by 2x2 averaging, same dtype."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    blocks = image[:h, :w].astype(np.float32).reshape(h // 2, 2, w // 2, 2, -1)
    return np.rint(blocks.mean((1, 3))).astype(image.dtype)


def find_pairs(folder: str | Path, split: str = "all") -> list[tuple[Path, Path, str]]:
    """(noisy, clean, scene) paths: `noisy/` + `gt/` with matching names, or SIDD's Data/<scene>/.
    split "train" keeps only the train part of denoiser.splits.scene_split (noisy/gt layout)."""
    folder = Path(folder)
    if (folder / "noisy").is_dir() or (folder / "gt").is_dir():
        return [(n, g, scene_of(n.name)) for n, g in pair_paths(folder, split)]
    root = folder / "Data" if (folder / "Data").is_dir() else folder
    found = []
    for noisy in sorted(root.rglob("*NOISY_SRGB*")):
        clean = noisy.with_name(noisy.name.replace("NOISY_SRGB", "GT_SRGB"))
        if not clean.is_file():
            raise ValueError(f"{noisy}: no matching GT_SRGB file")
        found.append((noisy, clean, sidd_scene(noisy.parent.name)))
    if not found:
        raise ValueError(f"{folder}: no pairs found; expected noisy/ and gt/, or SIDD's Data/<scene>/*NOISY_SRGB*")
    return found


def sidd_scene(folder_name: str) -> str:
    """The scene of a SIDD capture folder. Its name is <capture>_<scene>_<camera>_<ISO>_<shutter>_
    <illuminant>_<brightness> (e.g. `0001_001_S6_00100_00060_3200_L`): several captures, by other
    phones or at other settings, show the same scene, so the second field, not the whole name,
    is the scene. Other folder names are their own scene."""
    match = re.fullmatch(r"\d+_(\d+)_[A-Z0-9]+_.*", folder_name)
    return f"SIDD-scene-{match.group(1)}" if match else folder_name


def load_pairs(folder: str | Path, channels: int, min_size: int, split: str = "all") -> list[Example]:
    examples = []
    for noisy_path, clean_path, scene in find_pairs(folder, split):
        noisy, clean = _as_channels(read_image(noisy_path), channels), _as_channels(read_image(clean_path), channels)
        if noisy.shape != clean.shape:
            raise ValueError(f"{noisy_path.name}: noisy {noisy.shape} and clean {clean.shape} differ in size")
        examples.append(Example(noisy_path.name, scene, clean, noisy))
    return _check(examples, Path(folder), min_size)


def _check(examples: list[Example], folder: Path, min_size: int) -> list[Example]:
    if not examples:
        raise ValueError(f"{folder}: no images found")
    small = [e.name for e in examples if min(e.clean.shape[:2]) < min_size]
    if small:
        raise ValueError(f"{folder}: {len(small)} images are smaller than the {min_size}px patch, e.g. {small[:3]}")
    return examples


def split_by_scene(examples: list[Example], fraction: float) -> tuple[list[Example], list[Example]]:
    """Hold out ~fraction of the scenes (never a scene on both sides); fixed, independent of --seed."""
    scenes = sorted({e.scene for e in examples})
    if len(scenes) < 2:  # names carry no scene structure (e.g. IMG_0001, IMG_0002): split by file
        examples = [dataclasses.replace(e, scene=e.name) for e in examples]
        scenes = sorted(e.name for e in examples)
    if fraction <= 0 or len(scenes) < 2:
        return examples, []
    held = draw_held_out(scenes, fraction, seed=12345)
    return [e for e in examples if e.scene not in held], [e for e in examples if e.scene in held]


# ------------------------------------------------------------------ batches

@dataclass(frozen=True)
class BatchMaker:
    """Makes sample i of the batch at a given step, deterministically."""

    examples: tuple[Example, ...]
    noise: NoiseSpec
    patch: int
    augment: tuple[str, ...]
    augment_pairs: bool
    seed: int
    pairs_weight: float = 0.0  # probability of drawing a real pair (0: every image equally likely)
    white_targets_only: bool = False  # sigma_map is NaN (no target) but for white Gaussian noise

    def sample(self, step: int, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noisy (C, P, P), clean (C, P, P), sigma_map (1, P, P)), float32 in [0, 1] units; with
        white_targets_only the map is NaN wherever the noise is not white Gaussian."""
        rng = np.random.default_rng([self.seed, step, index])
        ex = self._pick(rng)
        h, w = ex.clean.shape[:2]
        y, x = int(rng.integers(h - self.patch + 1)), int(rng.integers(w - self.patch + 1))
        crop = (slice(y, y + self.patch), slice(x, x + self.patch))
        clean = _to_tensor(ex.clean[crop])
        noisy = None if ex.noisy is None else _to_tensor(ex.noisy[crop])
        flips = rng.integers(2, size=2) if "flip" in self.augment else (0, 0)
        turns = int(rng.integers(4)) if "rot90" in self.augment else 0
        clean, noisy = (_geometric(t, flips, turns) if t is not None else None for t in (clean, noisy))
        photometric = noisy is None or self.augment_pairs
        gain = float(rng.uniform(0.7, 1.3)) if photometric and "brightness" in self.augment else 1.0
        hue = float(rng.uniform(-np.pi, np.pi)) if photometric and "hue" in self.augment and clean.shape[0] == 3 else 0.0
        clean = _photometric(clean, gain, hue)
        if noisy is None:
            noise = self.noise.sample(rng)
            generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
            noisy = noise(clean, generator)
            sigma_map = noise_std_map(noise, clean, noisy)
            white = type(noise).__name__ == "Gaussian"
        else:
            noisy = _photometric(noisy, gain, hue)
            sigma_map = local_noise_std(noisy, clean)
            white = False
        if self.white_targets_only and not white:
            sigma_map = torch.full_like(sigma_map, float("nan"))
        return noisy, clean, sigma_map

    def _pick(self, rng: np.random.Generator) -> Example:
        if self.pairs_weight <= 0:
            return self.examples[int(rng.integers(len(self.examples)))]
        pairs = [e for e in self.examples if e.noisy is not None]
        clean = [e for e in self.examples if e.noisy is None]
        pool = pairs if (rng.random() < self.pairs_weight and pairs) or not clean else clean
        return pool[int(rng.integers(len(pool)))]

    def batch(self, step: int, indices: range) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stacked samples `indices` of the batch at `step`: (B, C, P, P), (B, C, P, P), (B, 1, P, P)."""
        samples = [self.sample(step, i) for i in indices]
        return tuple(torch.stack(parts) for parts in zip(*samples))


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / scale


def _geometric(t: torch.Tensor, flips, turns: int) -> torch.Tensor:
    if flips[0]:
        t = t.flip(-2)  # up-down
    if flips[1]:
        t = t.flip(-1)  # left-right
    return torch.rot90(t, turns, dims=(-2, -1)) if turns else t


def _photometric(t: torch.Tensor, gain: float, hue: float) -> torch.Tensor:
    """Brightness gain, then a hue rotation about the gray axis (keeps luma and saturation)."""
    if hue:
        cos, sin = math.cos(hue), math.sin(hue)
        k = 1 / 3
        s3 = math.sqrt(1 / 3)
        # Rodrigues rotation about (1, 1, 1)/sqrt(3)
        m = torch.tensor([
            [cos + k * (1 - cos), k * (1 - cos) - s3 * sin, k * (1 - cos) + s3 * sin],
            [k * (1 - cos) + s3 * sin, cos + k * (1 - cos), k * (1 - cos) - s3 * sin],
            [k * (1 - cos) - s3 * sin, k * (1 - cos) + s3 * sin, cos + k * (1 - cos)],
        ])
        t = torch.einsum("ij,jhw->ihw", m, t)
    return (t * gain).clamp(0, 1) if (hue or gain != 1.0) else t
