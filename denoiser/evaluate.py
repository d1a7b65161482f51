"""One `evaluate()` for the CLI, the trainer's validation, the app and the tests.

Synthetic protocol (published-comparable): AWGN is added to the float clean image with a
generator seeded per image (seed, index), the noisy input is *not* clipped, the output is
rounded to the reference's bit depth, and PSNR/SSIM are computed on RGB (denoiser.metrics).
"""

from __future__ import annotations

import os
import re
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

Method = torch.nn.Module | str
TEST_FRACTION = 0.3  # share of scenes in the standard test split of a pairs folder


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


def scene_of(name: str) -> str:
    """Crops of one scene share a name prefix (PolyU `Canon5D2_chair_5.jpg` -> `Canon5D2_chair`);
    the separator may be doubled (PolyU's `NikonD800_6-3_125_5000_plant__4.jpg` is a `..._plant` crop)."""
    stem = Path(name).stem
    return re.sub(r"[_-]+\d+$", "", stem) or stem


def _draw_key(name: str) -> str:
    """The name groups `scene_split` draws from: `scene_of` as it was when the split was first
    recorded (one separator only, so `plant__4` forms a group `plant_` of its own). Drawing over
    these keeps the published split, and the train part shipped models were trained on, unchanged."""
    stem = Path(name).stem
    return re.sub(r"[_-]\d+$", "", stem) or stem


def draw_held_out(keys: set[str] | Sequence[str], fraction: float, seed: int) -> set[str]:
    """A fixed random ~fraction (at least one) of the keys: the one draw behind every scene split
    (the standard test split here, the trainer's validation split), reproducible from its seed."""
    keys = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(keys))
    return {keys[i] for i in order[: max(1, round(fraction * len(keys)))]}


def scene_split(names: Sequence[str], test_fraction: float = TEST_FRACTION) -> tuple[list[str], list[str]]:
    """The standard (train, test) split of a pairs folder by scene: fixed, never a scene on both sides.
    The trainer's `--pairs-split train` and `evaluate(split="test")` both use it. The draw is over
    `_draw_key` groups; a scene (`scene_of`) is in the test part when any of its groups was drawn."""
    several = len({scene_of(n) for n in names}) > 1  # one scene: nothing to hold out
    drawn = draw_held_out({_draw_key(n) for n in names}, test_fraction, seed=20261125) if several else set()
    test = {scene_of(n) for n in names if _draw_key(n) in drawn}
    return [n for n in names if scene_of(n) not in test], [n for n in names if scene_of(n) in test]


# Folders with a documented, fixed validation split (shared/data/README.md): never train on it.
HELD_OUT_EVERY = {"ImageNet1000": 10}  # ImageNet-val: sorted(files)[::10], 100 images


def held_out(folder: str | os.PathLike, names: Sequence[str]) -> set[str]:
    """The names in `folder` that belong to its fixed validation split (empty for other folders)."""
    every = HELD_OUT_EVERY.get(Path(folder).name)
    return set(sorted(names)[::every]) if every else set()


def pair_paths(folder: str | os.PathLike, split: str = "all") -> list[tuple[Path, Path]]:
    """(noisy, gt) paths from a folder with `noisy/` and `gt/` holding matching file names."""
    folder = Path(folder)
    noisy_dir, gt_dir = folder / "noisy", folder / "gt"
    if not noisy_dir.is_dir() or not gt_dir.is_dir():
        raise FileNotFoundError(f"{folder}: expected sub-folders noisy/ and gt/ with matching file names")
    noisy = {p.name: p for p in list_images(noisy_dir)}
    gt = {p.name: p for p in list_images(gt_dir)}
    unmatched = sorted(set(noisy) ^ set(gt))
    if unmatched:
        raise ValueError(f"{folder}: {len(unmatched)} files have no partner in noisy/ or gt/, e.g. {unmatched[:3]}")
    if not noisy:
        raise ValueError(f"{folder}: no images in noisy/ and gt/")
    names = sorted(noisy)
    if split != "all":
        if split not in ("train", "test"):
            raise ValueError(f"split must be all, train or test, got {split!r}")
        names = scene_split(names)[0 if split == "train" else 1]
    return [(noisy[name], gt[name]) for name in names]


def _method_name(method: Method) -> str:
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)} or a model")
        return method
    return getattr(method, "name", None) or type(method).__name__


def _run(method: Method, noisy: np.ndarray, sigma: float | None, tile: int | None, ensemble: bool) -> np.ndarray:
    if isinstance(method, str):
        noisy = to_float(noisy)
        return classical_denoise(noisy, method, estimate_sigma(noisy) if sigma is None else sigma)
    if not method.config.noise_map:  # a blind network (seed, PD-Denoising) is never told the level
        sigma = None
    return denoise(noisy, method, sigma=sigma, tile=tile, ensemble=ensemble)


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
    Returns one EvalRecord per sigma (clean) or one for the pairs.
    """
    if (clean is None) == (pairs is None):
        raise ValueError("give exactly one of clean= (with sigmas) or pairs=")
    name = _method_name(method) + (" x8" if ensemble and not isinstance(method, str) else "")
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
            records.append(_score(method, name, dataset, sigma, given, cases, len(items), tile, ensemble, progress))
    else:
        items = _load_pairs(pairs, limit, split)
        dataset = dataset or _dataset_name(pairs) + ("" if split == "all" else f"-{split}")
        for sigma in sigmas or (None,):
            records.append(_score(method, name, dataset, sigma, sigma, iter(items), len(items), tile, ensemble, progress))
    return records


def _score(method, name, dataset, sigma, given_sigma, cases: Iterator, total: int, tile, ensemble, progress) -> EvalRecord:
    per_image, seconds, pixels = [], 0.0, 0
    for done, (noisy, ref) in enumerate(cases, 1):
        start = time.perf_counter()
        out = _run(method, noisy, given_sigma, tile, ensemble)
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
            held = held_out(clean, [p.name for p in paths])
            if split not in ("val", "train") or not held:
                raise ValueError(f"{clean}: split {split!r} needs a folder with a documented validation split "
                                 f"({sorted(HELD_OUT_EVERY)}), and split val or train")
            paths = [p for p in paths if (p.name in held) == (split == "val")]
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
