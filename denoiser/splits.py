"""Which images are held out, and how a folder is split: the data rules that evaluation and the
trainer share (a scene is never on both sides of a split; a documented validation split is never
trained on). Low in the core so both layers import it; it depends only on `denoiser.io`."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from .io import list_images

TEST_FRACTION = 0.3  # share of scenes in the standard test split of a pairs folder


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


# Documented, fixed validation splits (shared/data/README.md), never trained on: each a manifest in the
# package of its files' names, sizes and SHA-256. A file is recognised by its content, not by the name
# of the folder it is read from: a parent folder, a copy or a symlink with another name is still held out.
HELD_OUT_MANIFESTS = {"ImageNet-val": Path(__file__).parent / "heldout" / "imagenet_val.json"}


def held_out(paths: Sequence[str | os.PathLike]) -> set[Path]:
    """The files among `paths` that belong to a documented validation split (their SHA-256 is in one
    of HELD_OUT_MANIFESTS); only files of a listed size are read and hashed."""
    listed = [entry for manifest in HELD_OUT_MANIFESTS.values() for entry in _manifest(manifest)]
    sizes, hashes = {e["size"] for e in listed}, {e["sha256"] for e in listed}
    found = set()
    for path in map(Path, paths):
        if path.stat().st_size in sizes and hashlib.sha256(path.read_bytes()).hexdigest() in hashes:
            found.add(path)
    return found


@functools.lru_cache(maxsize=None)
def _manifest(path: Path) -> tuple[dict, ...]:
    return tuple(json.loads(path.read_text())["files"])


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
