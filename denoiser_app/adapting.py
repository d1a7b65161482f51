"""The Denoise tab's "Adapt to this photo" option: the model first learns the photo's own noise (the trainer's
per-photo adapt: the noise measured in the photo's flat regions, fine-tuned on for a few minutes), then
denoises the photo with what it learned. The adapted weights live in a scratch folder for the one request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .errors import fail


def adaptable(model: torch.nn.Module) -> bool:
    """Only the encoder-decoder models with a noise-level input can be adapted (as `denoiser adapt` says)."""
    config = getattr(model, "config", None)
    return config is not None and config.arch == "unet" and bool(config.noise_map)


def adapted_model(model: torch.nn.Module, photo: np.ndarray, minutes: float,
                  on_step: Callable[[int, int], None] | None = None, jpeg_quality: int | None = None) -> torch.nn.Module:
    """A copy of `model` fine-tuned to the noise of `photo` (stored as a JPEG of jpeg_quality, if one) for at
    most `minutes`, on the model's device."""
    from denoiser.hub import load_model, save_model
    from denoiser_train.photo_adapt import adapt_to_photo

    device = next(model.parameters()).device
    with tempfile.TemporaryDirectory(prefix="denoiser-app-adapt-") as scratch:
        source = save_model(model, Path(scratch) / "source")  # whatever the app serves: shipped, folder or Hub
        weights = adapt_to_photo(photo, Path(scratch) / "work", minutes=minutes, source=str(source), on_step=on_step,
                                 jpeg_quality=jpeg_quality)
        return load_model(str(weights), device=str(device)).eval()


def check_adaptable(models, settings, name: str) -> None:
    """Raises gr.Error when the server has adapting turned off or the model cannot adapt."""
    if settings.adapt_minutes <= 0:
        raise fail("Adapting to a photo is turned off on this server (DENOISER_ADAPT_MINUTES=0).")
    if not adaptable(models.models[name]):
        raise fail(f"The {models.label(name)} model cannot adapt to a photo: only the encoder-decoder "
                   "models that take a noise level can. Untick “Adapt to this photo” or choose another model.")


def adapt_for_photo(models, settings, name: str, noisy: np.ndarray, source: str, sigma, estimate: str,
                    stage: Callable[[str], None], progress: Callable[[int, int], None] | None,
                    jpeg_quality: int | None = None):
    """For DenoiserService.denoise: (the adapted model, the level it then measures, its description, (training
    steps done, steps planned)). A learned level is measured again with the adapted model; a given σ stays."""
    from denoiser.inference import estimate_noise

    steps = [0, 0]

    def heard(step: int, total: int) -> None:
        steps[:] = step, total
        if progress is not None:
            progress(step, total)

    stage(f"Learning this photo's noise (up to {settings.adapt_minutes:g} min)")
    try:
        adapted = adapted_model(models.models[name], noisy, settings.adapt_minutes, heard, jpeg_quality)
    except ValueError as err:  # e.g. a photo that is all texture: no plain area to measure the noise in
        raise fail(f"Could not learn this photo's noise: {err}. Denoise it without “Adapt to this photo”.") from err
    if source == "learned":
        found = estimate_noise(noisy, adapted)
        sigma, estimate = found.sigma, found.describe()
    return adapted, sigma, estimate, tuple(steps)
