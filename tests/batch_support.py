"""Photo libraries for the batch tests: small images of mixed sizes, bit depths and formats in
nested folders, and helpers that read back what a run left in its output folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from denoiser.io import write_image

ROOT = Path(__file__).resolve().parents[1]
# name -> (channels, 0 for gray; bits)
KINDS = {"rgb8.png": (3, 8), "rgb16.png": (3, 16), "gray8.png": (0, 8), "gray16.png": (0, 16), "rgba8.png": (4, 8),
         "photo.jpg": (3, 8)}


def library(folder: Path, count: int = 24, size: int = 40, seed: int = 0) -> Path:
    """`count` noisy images in folder/ and folder/<sub>/ (every 3rd one deeper), cycling through KINDS,
    each of another size around `size` pixels (odd sizes included)."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        kind = list(KINDS)[index % len(KINDS)]
        channels, bits = KINDS[kind]
        height, width = size + int(rng.integers(0, size // 2)), size + int(rng.integers(0, size // 2)) + 1
        deep, peak = bits == 16, 2 ** bits - 1
        shape = (height, width, channels) if channels else (height, width)
        smooth = np.linspace(0.2, 0.8, width)[None, :] * np.ones((height, 1))
        base = smooth[..., None] * np.ones(shape[2]) if channels else smooth
        noisy = np.clip(base + rng.normal(0, 0.08, shape), 0, 1)
        array = np.rint(noisy * peak).astype(np.uint16 if deep else np.uint8)
        if channels == 4:
            array[..., 3] = 255
        sub = f"set{index % 3}/" if index % 3 else ""
        write_image(folder / f"{sub}img{index:02d}-{kind}", array)
    return folder


def outputs(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` outside hidden folders and not hidden: rel path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def stray_files(folder: Path) -> list[str]:
    """Hidden files outside the journal (temporary files an interrupted write left)."""
    return [p.relative_to(folder).as_posix() for p in folder.rglob(".*")
            if p.is_file() and ".denoiser-journal" not in p.parts]


def journal(folder: Path) -> list[dict]:
    """Every record of every journal file, in order (a torn last line left out)."""
    records = []
    for path in sorted((folder / ".denoiser-journal").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return records


def done_counts(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in journal(folder):
        if record["event"] == "done":
            counts[record["target"]] = counts.get(record["target"], 0) + 1
    return counts


def cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "denoiser", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, **kwargs)


def popen(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "denoiser", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def denoise(*args) -> int:
    """`denoiser denoise ARGS...` in this process; its exit status."""
    from denoiser.cli import main

    return main(["denoise", *map(str, args)])


def finished_run(tmp_path: Path, model_dir: Path, count: int = 3) -> tuple[list, Path, dict[str, bytes]]:
    """A finished batch run of `count` photos into tmp_path/out: (its arguments, OUT, the outputs' bytes)."""
    out = tmp_path / "out"
    args = [library(tmp_path / "photos", count=count), "-o", out, "--model", model_dir, "--sigma", 10]
    assert denoise(*args) == 0
    return args, out, outputs(out)


def journal_segment(out: Path) -> Path:
    """The (first) journal segment file of a run into OUT."""
    return next((out / ".denoiser-journal").glob("*.jsonl"))
