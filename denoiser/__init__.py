"""denoiser: a denoising autoencoder for photos, with noise models, metrics and tiled inference.

`import denoiser` is cheap: submodules (and torch, scikit-image, huggingface_hub) load on
first use of the names below.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "denoise": "inference",
    "estimate_noise": "inference",
    "load_model": "hub",
    "save_model": "hub",
    "ModelLoadError": "hub",
    "ModelConfig": "model",
    "build_model": "model",
    "preset": "model",
    "make_noise": "noise",
    "estimate_sigma": "noise",
    "estimate_nlf": "noise",
    "psnr": "metrics",
    "ssim": "metrics",
    "read_image": "io",
    "write_image": "io",
    "ImageReadError": "io",
    "classical_denoise": "baselines",
    "evaluate": "evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'denoiser' has no attribute {name!r}")
