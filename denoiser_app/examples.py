"""Example photos for the Denoise tab: clean public-domain images from scikit-image with realistic
camera noise from the library's own sensor model (denoiser.degrade.sample_raw: Poisson-Gaussian
noise in linear raw, demosaicked and processed back, as a camera makes it). Made once per process
from a fixed seed, so every visitor sees the same examples; nothing is downloaded or stored in the
repository."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

# (scikit-image image, file name shown to the visitor, shot-noise level, seed): mild to strong.
EXAMPLES = (
    ("chelsea", "cat-indoors", 0.004, 1),
    ("coffee", "coffee-low-light", 0.003, 2),
    ("astronaut", "portrait-high-iso", 0.006, 3),
    ("rocket", "rocket-at-dusk", 0.002, 4),
)


def noisy_example(image: str, shot: float, seed: int) -> np.ndarray:
    """uint8 (H, W, 3): the scikit-image `image` with seeded camera noise at shot level `shot`."""
    import skimage.data
    import torch

    from denoiser.degrade import sample_raw
    from denoiser.io import from_float, to_float

    clean = to_float(np.asarray(getattr(skimage.data, image)()))
    camera = sample_raw(shot, np.random.default_rng(seed), jpeg_probability=0.0)
    tensor = torch.from_numpy(np.ascontiguousarray(clean.transpose(2, 0, 1)))  # (3, H, W)
    noisy = camera(tensor, torch.Generator().manual_seed(seed)).numpy().transpose(1, 2, 0)
    return from_float(noisy, np.uint8)


@functools.lru_cache(maxsize=1)
def example_photos() -> tuple[str, ...]:
    """Paths of the example PNGs, written into a temporary folder on first use."""
    from denoiser.io import write_image

    folder = Path(tempfile.mkdtemp(prefix="denoiser-examples-"))
    paths = []
    for image, name, shot, seed in EXAMPLES:
        path = folder / f"{name}.png"
        write_image(path, noisy_example(image, shot, seed))
        paths.append(str(path))
    return tuple(paths)
