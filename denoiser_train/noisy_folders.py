"""Which files of a folder are noisy photos: a plain folder of them, or the noisy/ half of a noisy/ + gt/
folder of pairs, whose references a training run on noisy photos alone must never open."""

from __future__ import annotations

from pathlib import Path

from denoiser.io import IMAGE_SUFFIXES
from denoiser.splits import scene_split

REFERENCE_FOLDERS = ("gt", "GT", "clean")  # never read: self-supervised training has no clean targets


def noisy_paths(folder: str | Path, split: str = "all") -> list[Path]:
    """The images of a folder of noisy photos, sub-folders included. A folder laid out as pairs
    (noisy/ + gt/) gives its noisy/ images only: the references are never opened. split "train" or
    "test" keeps that part of the standard scene split (`denoiser.splits.scene_split`, by file name) of a
    noisy/ + gt/ folder; a plain folder of noisy photos is taken whole."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be all, train or test, got {split!r}")
    root = folder / "noisy" if (folder / "noisy").is_dir() else folder
    paths = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(part in REFERENCE_FOLDERS for part in parts[:-1]) or "GT_SRGB" in path.name:
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            paths.append(path)
    if not paths:
        raise ValueError(f"{folder}: no images found")
    if split != "all" and root != folder:  # a split is of pairs: a plain folder of noisy photos is taken whole
        kept = set(scene_split([p.name for p in paths])[0 if split == "train" else 1])
        paths = [p for p in paths if p.name in kept]
    return paths
