"""The models the app serves: loading, plain-language names, and the one call that runs them.

Three kinds of model: `estimator` (the shipped `photo` model: it predicts its own per-pixel noise
map, which the strength scales), `sigma` (`gaussian`: one noise level σ, estimated or given,
times the strength) and `blind` (a user's own model without a noise-level input: it takes
neither σ nor strength).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping

import numpy as np

log = logging.getLogger("denoiser.app")

# The models the app loads, in the order the model choice lists them (seed-paper: library only).
MODEL_ORDER = ("photo", "gaussian", "seed")
MODEL_LABELS = {"photo": "Everyday photos", "gaussian": "Even grain (Gaussian)", "seed": "Original paper's network"}
MODEL_HELP = {
    "photo": "made for phone and camera photos: it measures how noisy each part of the picture is by itself",
    "gaussian": "for fine grain that is the same everywhere, such as noise added on purpose; it works from "
    "one noise level σ",
    "seed": "the autoencoder of the paper this project started from, kept to compare against; about 30 times "
    "slower and less clean than the others",
}
KIND_HELP = {
    "estimator": "it measures the noise in each part of the picture itself",
    "sigma": "it works from one noise level σ, estimated from the photo or set by you",
    "blind": "it finds the noise level itself and has no strength setting",
}

try:  # Hugging Face ZeroGPU attaches a GPU only inside functions wrapped by spaces.GPU
    import spaces

    gpu = spaces.GPU
except ImportError:

    def gpu(fn: Callable) -> Callable:
        return fn


def model_kind(model) -> str:
    """'estimator', 'sigma' or 'blind' (config.noise_map False: takes no noise level)."""
    from denoiser.inference import has_estimator

    config = getattr(model, "config", None)
    if config is not None and not config.noise_map:
        return "blind"
    return "estimator" if has_estimator(model) else "sigma"


def single_name(model) -> str:
    """The name a lone model is listed under: its shipped name, else 'custom'."""
    from denoiser.hub import REFERENCE_MODELS, SHIPPED_MODELS

    name = getattr(model, "name", None)
    return name if name in SHIPPED_MODELS + REFERENCE_MODELS else "custom"


def load_models(source: str | None, device: str) -> dict:
    """{name: model}: `source` alone when given (anything denoiser.load_model takes), else every
    shipped model whose weights load. Raises denoiser.ModelLoadError when none does."""
    from denoiser import hub

    if source:
        model = hub.load_model(source, device=device)
        return {single_name(model): model}
    names = [n for n in MODEL_ORDER if hub.shipped_folder(n)] + [n for n in hub.SHIPPED_MODELS if n not in MODEL_ORDER]
    models, errors = {}, {}
    for name in names:
        try:
            models[name] = hub.load_model(name, device=device)
        except hub.ModelLoadError as err:
            errors[name] = err
    if not models:
        raise errors.get(hub.DEFAULT_MODEL) or next(iter(errors.values()))
    for name, err in errors.items():  # absent weights are normal (a model ships later); broken ones are not
        present = (hub.SHIPPED_DIR / name / hub.WEIGHTS_NAME).is_file()
        (log.warning if present else log.info)("shipped model %r not loaded: %s", name, err)
    return models


class Models:
    """The loaded models by name, with their labels and kinds, and `run` (the GPU work).

    photo_default (the photo tab and /denoise): `photo` when loaded, else the first model with an
    estimator, else the first. synthetic_default: `gaussian`, else the first that takes σ."""

    def __init__(self, models, device: str | None = None) -> None:
        if not isinstance(models, Mapping):
            models = {single_name(models): models}
        if not models:
            raise ValueError("the app needs at least one model")
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.models = {str(name): m.to(device).eval() for name, m in models.items()}
        self.photo_default = self._pick("photo", "estimator")
        self.synthetic_default = self._pick("gaussian", "sigma")
        # A closure over this object, made before ZeroGPU forks its worker: only the model's name,
        # the image and numbers cross to the worker, never the model (no module-level registry).
        self.run = gpu(self._run)

    def _pick(self, preferred: str, kind: str) -> str:
        if preferred in self.models:
            return preferred
        return next((n for n in self.models if self.kind(n) == kind), next(iter(self.models)))

    def resolve(self, name: str | None, default: str | None = None) -> str:
        """A loaded model's name from a name or label; None or '' gives `default` (else the photo default)."""
        if name is None or str(name).strip() == "":
            return default or self.photo_default
        name = str(name).strip()
        if name in self.models:
            return name
        by_label = {self.label(n): n for n in self.models}
        if name in by_label:
            return by_label[name]
        raise ValueError(f"Unknown model {name!r}; this app has {', '.join(map(repr, self.models))}.")

    def kind(self, name: str | None) -> str:
        return model_kind(self.models[self.resolve(name)])

    def label(self, name: str) -> str:
        return MODEL_LABELS.get(name, name)

    def names(self) -> list[str]:
        """Shipped models first (in MODEL_ORDER), then the others."""
        order = {n: i for i, n in enumerate(MODEL_ORDER)}
        return sorted(self.models, key=lambda n: order.get(n, len(order)))

    def choices(self) -> list[tuple[str, str]]:
        """(label, name) pairs for the model choice."""
        return [(self.label(n), n) for n in self.names()]

    def help_markdown(self) -> str:
        """One line per model: what it is for, in plain words."""
        lines = [f"- **{html.escape(self.label(n))}**: {MODEL_HELP.get(n) or KIND_HELP[self.kind(n)]}." for n in self.names()]
        return "\n".join(lines)

    def source(self, name: str) -> str:
        """Where a model's weights came from (folder, shipped name or Hub id, with its revision)."""
        model = self.models[name]
        where = getattr(model, "name", None) or type(model).__name__
        revision = getattr(model, "revision", None)
        return f"{where} (revision {revision})" if revision else str(where)

    def details_markdown(self, max_pixels: int) -> str:
        """The technical line for the Advanced section: weights, device, size limit."""
        weights = "; ".join(f"{html.escape(self.label(n))}: `{html.escape(self.source(n))}`" for n in self.names())
        where = "a GPU" if self.device.startswith("cuda") else "the server's processor (CPU)"
        return (f"Weights: {weights}. Runs on {where}; photos up to {max_pixels / 1e6:g} megapixels are "
                "processed at full size, never resized.")

    def estimate(self, name: str, image: np.ndarray):
        """denoiser.inference.estimate_noise with this model (None for a blind model)."""
        from denoiser.inference import estimate_noise

        name = self.resolve(name)
        if self.kind(name) == "blind":
            return None
        return estimate_noise(image, self.models[name])

    def _run(self, name: str, image: np.ndarray, sigma: float | None = None, strength: float = 1.0,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """denoiser.denoise at full resolution; a blind model gets neither sigma nor strength."""
        from denoiser.inference import denoise

        model = self.models[name]
        if model_kind(model) == "blind":
            return denoise(image, model, progress=progress)
        return denoise(image, model, sigma=sigma, strength=strength, progress=progress)
