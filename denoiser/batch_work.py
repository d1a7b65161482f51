"""One image of a batch: read it, denoise it, write it. What every engine runs, in three steps so
the local engine can overlap them (decode and encode in threads while the network runs) and the
Ray engine runs them back to back in its actors; both therefore write the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import io as image_io
from .batch_plan import Job
from .metadata import Metadata
from .storage import open_location


@dataclass(frozen=True)
class Settings:
    """Everything besides the model that decides an output's bytes (recorded in the journal)."""

    sigma: float | None = None  # 0-255 scale; None: estimated per image
    strength: float = 1.0
    ensemble: bool = False
    tile: int = 1024
    format: str = "same"
    quality: int = image_io.DEFAULT_QUALITY
    strip_metadata: bool = False


@dataclass(frozen=True)
class Outcome:
    """What became of one job: status 'done' (output_size bytes written) or 'failed' (reason)."""

    target: str
    status: str
    reason: str = ""
    output_size: int = 0
    how: str = ""


def resolve_model_source(source: str | None) -> str:
    """The --model value as every process can load it: the default spelled out, a folder made absolute
    (a Ray worker may start in another folder)."""
    source = source or os.environ.get("DENOISER_MODEL") or "photo"
    folder = Path(source).expanduser()
    return str(folder.resolve()) if folder.is_dir() else source


def load(source: str, runtime: str, device: str = "cpu"):
    """The model for `denoise()`: PyTorch weights, or the same network in onnxruntime (runtime 'onnx')."""
    if runtime == "onnx":
        from .onnx_runtime import onnx_model

        return onnx_model(source)
    from .hub import load_model

    return load_model(source, device=device)


def model_identity(model) -> dict:
    """Which network this is, for the journal: its name, and what decides its outputs (the SHA-256
    of its weights, of its config.json and of the code: identity.output_identity). An ONNX
    graph carries the digest of the weights it was exported from."""
    from .identity import output_identity, weights_digest

    session = getattr(model, "session", None)
    if session is not None:
        digest = session.get_modelmeta().custom_metadata_map.get("weights_sha256", "")
        return {"model": model.name, **output_identity(digest, model.config), "runtime": "onnx"}
    return {"model": getattr(model, "name", "model"), **output_identity(weights_digest(model), model.config),
            "runtime": "torch"}


def settings_record(settings: Settings, model) -> dict:
    """What a journal's "done" record keeps to recognise the same work: model, settings, version."""
    from . import __version__

    return {**model_identity(model), **asdict(settings), "denoiser": __version__}


def read(job: Job) -> tuple[np.ndarray, Metadata]:
    """The input's pixels and metadata (denoiser.io's reader; a remote input through a local copy)."""
    storage, root = open_location(job.root)
    with storage.local_file(storage.join(root, job.rel)) as path:
        try:
            return image_io.read_image_with_metadata(path)
        except image_io.ImageReadError as err:
            raise image_io.ImageReadError(str(err).replace(str(path), job.source)) from None


def compute(image: np.ndarray, model, settings: Settings,
            progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, str]:
    """(denoised image, how the noise level was chosen, in words)."""
    from .inference import denoise, estimate_noise

    level = settings.sigma
    if not model.config.noise_map:
        how = "blind model"
    elif settings.sigma is not None:
        how = f"σ {settings.sigma:.1f} given, strength {settings.strength:g}"
    else:  # measured once, here, and passed on: denoise() would measure the same level again
        estimate = estimate_noise(image, model, settings.tile)
        level, how = estimate.sigma, f"{estimate.plain()}, strength {settings.strength:g}"
    out = denoise(image, model, sigma=level, tile=settings.tile, strength=settings.strength,
                  ensemble=settings.ensemble, progress=progress)
    return out, how


def write(out: np.ndarray, metadata: Metadata, target: str, out_root: str, settings: Settings) -> int:
    """Write the result with denoiser.io.write_image (atomically) under `out_root`; returns its size."""
    from . import __version__

    metadata = metadata.without_exif() if settings.strip_metadata else metadata.with_software(f"denoiser {__version__}")
    storage, root = open_location(out_root)
    return storage.write_image(storage.join(root, target), out, metadata, settings.quality)


def reason(err: BaseException) -> str:
    """One line for the summary: our own errors already name the file and the problem."""
    if isinstance(err, (image_io.ImageReadError, image_io.ImageWriteError, ValueError)):
        return str(err)
    return f"{type(err).__name__}: {err}"


def denoise_job(job: Job, model, settings: Settings, out_root: str) -> Outcome:
    """All three steps; any error becomes a failed Outcome naming the reason (the batch goes on)."""
    try:
        image, metadata = read(job)
        out, how = compute(image, model, settings)
        size = write(out, metadata, job.target, out_root, settings)
    except Exception as err:  # noqa: BLE001 - one bad photo must not stop a night's batch
        return Outcome(job.target, "failed", reason(err))
    return Outcome(job.target, "done", output_size=size, how=how)
