"""One `evaluate()` for the CLI, the trainer's validation, the app and the tests.

Synthetic protocol (published-comparable): AWGN is added to the float clean image with a
generator seeded per image (seed, index), the noisy input is *not* clipped, the output is
rounded to the reference's bit depth, and PSNR/SSIM are computed on RGB (denoiser.metrics).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .baselines import METHODS, classical_denoise
from .inference import DEFAULT_TILE, denoise
from .io import list_images, read_image, to_float
from .metrics import psnr, ssim
from .noise import estimate_sigma
from .splits import HELD_OUT_MANIFESTS, held_out, pair_paths

Method = torch.nn.Module | str


@dataclass
class EvalRecord:
    """Mean scores of one method on one dataset at one noise level (for pairs: the fixed sigma
    given to the method, or None when it estimated sigma per image)."""

    dataset: str
    sigma: float | None
    method: str
    n: int
    psnr: float
    ssim: float
    mp_per_s: float
    per_image: list[dict] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        """The JSON record: dataset, sigma, method, n, psnr, ssim, mp_per_s."""
        return {k: v for k, v in asdict(self).items() if k != "per_image"}


def awgn(clean: np.ndarray, sigma: float, seed: int, index: int) -> np.ndarray:
    """The protocol's noisy image: float32 clean + N(0, (sigma/255)^2), unclipped, seeded per image."""
    rng = np.random.default_rng([seed, index])
    x = to_float(clean)
    return (x + rng.standard_normal(x.shape, dtype=np.float64).astype(np.float32) * np.float32(sigma / 255)).astype(np.float32)


def awgn_jpeg(clean: np.ndarray, sigma: float, seed: int, index: int, quality: int) -> np.ndarray:
    """AWGN as in `awgn`, then clipped to 8 bits and JPEG-compressed at `quality`, as a photo
    that was saved by a phone or re-shared would be; float32 in [0, 1]."""
    from .degrade import jpeg

    noisy = torch.from_numpy(np.clip(awgn(clean, sigma, seed, index), 0, 1).transpose(2, 0, 1).copy())
    return jpeg(noisy, quality).numpy().transpose(1, 2, 0)


def _method_name(method: Method) -> str:
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)} or a model")
        return method
    return getattr(method, "name", None) or type(method).__name__


def _run(method: Method, noisy: np.ndarray, sigma: float | None, tile: int | None, ensemble: bool,
         strength: float = 1.0) -> np.ndarray:
    if isinstance(method, str):
        noisy = to_float(noisy)
        return classical_denoise(noisy, method, estimate_sigma(noisy) if sigma is None else sigma)
    if not method.config.noise_map:  # a blind network (seed, PD-Denoising) is never told the level
        sigma = None
    return denoise(noisy, method, sigma=sigma, tile=tile, ensemble=ensemble, strength=strength)


def evaluate(
    method: Method,
    *,
    clean: str | os.PathLike | Sequence[np.ndarray] | None = None,
    sigmas: Sequence[float] | None = None,
    pairs: str | os.PathLike | Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    seed: int = 0,
    limit: int | None = None,
    blind: bool = False,
    split: str = "all",
    ensemble: bool = False,
    strength: float = 1.0,
    tile: int | None = DEFAULT_TILE,
    dataset: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    jpeg_quality: int | None = None,
) -> list[EvalRecord]:
    """Score a model or a classical method (see baselines.METHODS).

    clean: folder or list of uint8/uint16 clean images; AWGN is added at each of `sigmas`
        (0-255 scale; default 25).
    pairs: folder with noisy/ and gt/, or list of (noisy, clean) arrays (noisy may be float). The
        method estimates sigma per image, unless `sigmas` gives fixed levels to try (one record
        each: how a classical method's strength is tuned on a training split).
    blind: hide the true sigma from the method (it estimates it).
    split: for a pairs folder, "all", or the "train" / "test" part of `scene_split`; for a clean
        folder with a documented validation split (`held_out`), "val" or "train" picks that part.
    jpeg_quality: clean only: after the AWGN, clip to 8 bits and JPEG-compress at this quality
        (the dataset is then named e.g. "CBSD68+jpeg80"); methods are then always blind.
    ensemble: models only: the x8 self-ensemble (the method is then named "<name> x8").
    strength: models only: scales the noise level given or estimated (named "<name> strength S" when not 1).
    Returns one EvalRecord per sigma (clean) or one for the pairs.
    """
    if (clean is None) == (pairs is None):
        raise ValueError("give exactly one of clean= (with sigmas) or pairs=")
    name = _method_name(method) + (" x8" if ensemble and not isinstance(method, str) else "")
    name += f" strength {strength:g}" if strength != 1 and not isinstance(method, str) else ""
    records = []
    if clean is not None:
        items = _load_clean(clean, limit, split)
        dataset = dataset or _dataset_name(clean) + ("" if split == "all" else f"-{split}") + \
            (f"+jpeg{jpeg_quality}" if jpeg_quality else "")
        for sigma in sigmas or (25,):
            if jpeg_quality:
                cases = ((awgn_jpeg(ref, sigma, seed, i, jpeg_quality), ref) for i, ref in enumerate(items))
            else:
                cases = ((awgn(ref, sigma, seed, i), ref) for i, ref in enumerate(items))
            given = None if blind or jpeg_quality else sigma
            records.append(_score(method, name, dataset, sigma, given, cases, len(items), tile, (ensemble, strength), progress))
    else:
        items = _load_pairs(pairs, limit, split)
        dataset = dataset or _dataset_name(pairs) + ("" if split == "all" else f"-{split}")
        for sigma in sigmas or (None,):
            records.append(_score(method, name, dataset, sigma, sigma, iter(items), len(items), tile, (ensemble, strength),
                                  progress))
    return records


def _score(method, name, dataset, sigma, given_sigma, cases: Iterator, total: int, tile, options, progress) -> EvalRecord:
    """options: (ensemble, strength), passed on to denoise()."""
    per_image, seconds, pixels = [], 0.0, 0
    for done, (noisy, ref) in enumerate(cases, 1):
        start = time.perf_counter()
        out = _run(method, noisy, given_sigma, tile, *options)
        seconds += time.perf_counter() - start
        pixels += ref.shape[0] * ref.shape[1]
        per_image.append({"psnr": psnr(ref, out), "ssim": ssim(ref, out)})
        if progress:
            progress(done, total)
    if not per_image:
        raise ValueError(f"{dataset}: no images to evaluate")
    return EvalRecord(
        dataset=dataset,
        sigma=sigma,
        method=name,
        n=len(per_image),
        psnr=float(np.mean([r["psnr"] for r in per_image])),
        ssim=float(np.mean([r["ssim"] for r in per_image])),
        mp_per_s=pixels / 1e6 / max(seconds, 1e-9),
        per_image=per_image,
    )


def _dataset_name(source) -> str:
    return Path(source).name if isinstance(source, (str, os.PathLike)) else "images"


def _load_clean(clean, limit: int | None, split: str = "all") -> list[np.ndarray]:
    if isinstance(clean, (str, os.PathLike)):
        paths = list_images(clean)
        if split != "all":
            held = held_out(paths)
            if split not in ("val", "train") or not held:
                raise ValueError(f"{clean}: split {split!r} needs a folder holding a documented validation split "
                                 f"({', '.join(sorted(HELD_OUT_MANIFESTS))}), and split val or train")
            paths = [p for p in paths if (p in held) == (split == "val")]
        paths = paths[:limit]
        if not paths:
            raise ValueError(f"{clean}: no images found")
        return [read_image(p) for p in paths]
    return list(clean)[:limit]


def _load_pairs(pairs, limit: int | None, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(pairs, (str, os.PathLike)):
        items = []
        for noisy_path, gt_path in pair_paths(pairs, split)[:limit]:
            noisy, gt = read_image(noisy_path), read_image(gt_path)
            if noisy.shape != gt.shape:
                raise ValueError(f"{noisy_path.name}: noisy {noisy.shape} and gt {gt.shape} differ in size")
            items.append((noisy, gt))
        return items
    return list(pairs)[:limit]
