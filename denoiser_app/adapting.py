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


def adaptable(model: torch.nn.Module) -> bool:
    """Only the encoder-decoder models with a noise-level input can be adapted (as `denoiser adapt` says)."""
    config = getattr(model, "config", None)
    return config is not None and config.arch == "unet" and bool(config.noise_map)


def adapted_model(model: torch.nn.Module, photo: np.ndarray, minutes: float,
                  on_step: Callable[[int, int], None] | None = None) -> torch.nn.Module:
    """A copy of `model` fine-tuned to the noise of `photo` for at most `minutes`, on the model's device."""
    from denoiser.hub import load_model, save_model
    from denoiser_train.photo_adapt import adapt_to_photo

    device = next(model.parameters()).device
    with tempfile.TemporaryDirectory(prefix="denoiser-app-adapt-") as scratch:
        source = save_model(model, Path(scratch) / "source")  # whatever the app serves: shipped, folder or Hub
        weights = adapt_to_photo(photo, Path(scratch) / "work", minutes=minutes, source=str(source), on_step=on_step)
        return load_model(str(weights), device=str(device)).eval()
