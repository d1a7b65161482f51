"""Run an exported ONNX folder (model.onnx, estimator.onnx, config.json) in onnxruntime through the
library's own `denoise()`, `denoise_tensor()` and `estimate_noise()`.

`OnnxDenoiser` answers what those functions ask of a PyTorch model (config, stride,
receptive_radius, estimator, eval/train, a call with a noise map), so padding to the stride,
tiling, gray/colour handling, strength and the median noise level are the same code for both
runtimes, and only the network runs elsewhere. `onnxruntime` (the `onnx` extra) is imported when
a folder is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .hub import CONFIG_NAME, ModelLoadError, load_model, read_config
from .identity import output_identity, weights_digest
from .onnx_export import ESTIMATOR_ONNX, MODEL_ONNX, export_onnx


def _session(path: Path, threads: int | None):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelLoadError("onnxruntime is not installed: pip install 'denoiser[onnx]'") from None
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing; write it with `denoiser export-onnx MODEL -o {path.parent}`")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one chain of convolutions: nothing to run side by side
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise ModelLoadError(f"{path}: onnxruntime cannot load it ({err})") from None


def _run(session, **inputs: torch.Tensor) -> torch.Tensor:
    # onnxruntime reads C-contiguous NCHW float32; denoise_tensor hands over channels_last views.
    feed = {name: np.ascontiguousarray(value.detach().cpu().numpy(), dtype=np.float32) for name, value in inputs.items()}
    return torch.from_numpy(session.run(None, feed)[0])


class OnnxEstimator:
    """estimator.onnx: noisy (B, C, H, W) -> per-pixel noise std map (B, 1, H, W) in [0, 1] units."""

    def __init__(self, session) -> None:
        self.session = session
        self._radius = int(session.get_modelmeta().custom_metadata_map["receptive_radius"])

    def receptive_radius(self) -> int:
        return self._radius

    def __call__(self, noisy: torch.Tensor) -> torch.Tensor:
        return _run(self.session, noisy=noisy)


class OnnxDenoiser:
    """model.onnx (+ estimator.onnx), shaped like a PyTorch denoiser for the inference functions."""

    training = False

    def __init__(self, folder: str | os.PathLike, threads: int | None = None) -> None:
        folder = Path(folder)
        self.config = read_config(folder / CONFIG_NAME)
        self.session = _session(folder / MODEL_ONNX, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.stride, self._radius = int(meta["stride"]), int(meta["receptive_radius"])
        except (KeyError, ValueError):
            raise ModelLoadError(f"{folder / MODEL_ONNX}: no stride/receptive_radius metadata; "
                                 "export it with `denoiser export-onnx`") from None
        self.estimator = OnnxEstimator(_session(folder / ESTIMATOR_ONNX, threads)) if self.config.estimator else None
        self.name = f"{folder} (onnx)"

    def receptive_radius(self) -> int:
        return self._radius

    # denoise_tensor sets eval mode and restores the old one; a graph has only the one mode.
    def eval(self) -> "OnnxDenoiser":
        return self

    def train(self, mode: bool = True) -> "OnnxDenoiser":
        if mode:
            raise ValueError("an ONNX graph cannot be trained")
        return self

    def parameters(self) -> Iterator[torch.Tensor]:
        """The inference code finds a model's device from its first parameter: here, the CPU."""
        yield torch.empty(0)

    def __call__(self, noisy: torch.Tensor, sigma_map: torch.Tensor | None = None,
                 noise_scale: float = 1.0) -> torch.Tensor:
        """As the PyTorch forward: noisy (B, C, H, W), H and W multiples of `stride`; sigma_map
        (B, 1, H, W) or (B, 1, 1, 1) in [0, 1] units, or None for the estimator's map times noise_scale."""
        if not self.config.noise_map:
            return _run(self.session, noisy=noisy)
        if sigma_map is None:
            if self.estimator is None:
                raise ValueError("this model needs a noise level (sigma_map)")
            sigma_map = self.estimator(noisy) * noise_scale
        return _run(self.session, noisy=noisy, sigma_map=sigma_map.expand(-1, 1, *noisy.shape[-2:]))


def load_onnx(folder: str | os.PathLike, threads: int | None = None) -> OnnxDenoiser:
    """An exported folder as a model for `denoise()`; `threads` sets onnxruntime's (default: its own choice)."""
    return OnnxDenoiser(folder, threads)


def cache_dir() -> Path:
    """Where `onnx_model` keeps the graphs it exported: $DENOISER_CACHE/onnx, else ~/.cache/denoiser/onnx."""
    base = os.environ.get("DENOISER_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "denoiser"
    return Path(base) / "onnx"


def onnx_model(source: str | os.PathLike | None = None, threads: int | None = None) -> OnnxDenoiser:
    """A model for `denoise()` that runs in onnxruntime: a folder holding model.onnx as it is; anything
    else `load_model` takes (a shipped name, a weights folder, a Hub id) is exported once into
    `cache_dir()`, under a digest of what decides its outputs (weights, config.json, the code:
    identity.output_identity), so new weights or another config of the same name are exported anew."""
    if source is not None and (Path(source).expanduser() / MODEL_ONNX).is_file():
        return load_onnx(Path(source).expanduser(), threads)
    model = load_model(source)
    identity = output_identity(weights_digest(model), model.config)
    folder = cache_dir() / hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    if not (folder / CONFIG_NAME).is_file():  # export_onnx writes config.json last: its presence means complete
        try:
            export_onnx(model, folder)
        except ImportError as err:
            raise ModelLoadError(f"cannot export {model.name} to ONNX: {err}") from None
    runtime = load_onnx(folder, threads)
    runtime.name = f"{model.name} (onnx)"
    return runtime
