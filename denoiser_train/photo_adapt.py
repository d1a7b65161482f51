"""Adapt a model to the noise of one photo, then throw the adaptation away: `denoise PHOTO --adapt` and the
app's "Adapt to this photo" option.

It is `adapt` on a folder of that one photo, in a scratch folder the caller deletes. The measured noise goes on
the photo's own denoised version (by the model being adapted), or on the clean photos given: the photo's own
content at its own brightness teaches more than other photos do (SIDD12's 1 MP crop, 5 minutes, 2 cores: 40.10 dB
against 39.66 with the training sets' photos, 39.03 before adapting), and it needs no data folder (a Space).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .adapt import PHOTO_MINUTES, PHOTO_STEPS, adapt
from .init_sources import load_source
from .own_clean import rgb8, write_own_clean


def adapt_to_photo(image: np.ndarray, scratch: str | Path, minutes: float = PHOTO_MINUTES, source: str = "photo",
                   clean: tuple[str, ...] = (), on_step: Callable[[int, int], None] | None = None,
                   threads: int = 0, jpeg_quality: int | None = None) -> Path:
    """Fine-tune `source` to the noise of `image` (H, W[, C], uint8 or uint16) for at most `minutes`, in
    `scratch` (an empty folder the caller deletes); returns the adapted weights' folder. jpeg_quality: the
    photo came as a JPEG of that quality (`denoiser.jpeg_quality`), so the training samples get the same."""
    from denoiser.io import write_image

    scratch = Path(scratch)
    (scratch / "photo").mkdir(parents=True)
    photo = rgb8(image)
    if jpeg_quality is None:
        write_image(scratch / "photo" / "photo.png", photo)  # a folder of one: what adapt reads
    else:  # stored again at its quality (nearly the same pixels): the fit reads the quality from the file
        Image.fromarray(photo).save(scratch / "photo" / "photo.jpg", quality=jpeg_quality)
    if not clean:
        model, _ = load_source(source)
        clean = (str(write_own_clean([photo], model, scratch / "clean")),)
    return adapt(scratch / "photo", scratch / "run", minutes=minutes, source=source, steps=PHOTO_STEPS,
                 clean=tuple(map(str, clean)), on_step=on_step, resumable=False, threads=threads)
