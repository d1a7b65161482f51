"""A model's identity: what decides its outputs besides the settings of a run (its weights, its
config.json and the code that runs it). The batch journal's "done" record and the ONNX export cache
are keyed on it, so new weights, another config or a code change that can change outputs is new work.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from .hub import unwrap


def weights_digest(model: nn.Module) -> str:
    """SHA-256 over the state dict (names, dtypes, shapes, values): written into each graph, so a
    stale model.onnx beside retrained safetensors is caught (train push checks it)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(unwrap(model).state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}\n".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


# Modules that cannot change an output's bytes (the command line, planning and running a batch,
# training-only and evaluation code). Every other module of the package counts for
# `code_digest`, so a new module counts until someone decides it does not.
_NOT_OUTPUT_CODE = frozenset({
    "__main__.py", "cli.py", "cli_progress.py", "batch.py", "batch_plan.py", "journal.py", "storage.py", "ray_engine.py",
    "evaluate.py", "metrics.py", "baselines.py", "degrade.py", "splits.py",
})


def config_digest(config) -> str:
    """SHA-256 of a model's config.json as parsed (ModelConfig.to_json: canonical), e.g. whether
    the white-noise check runs: the same weights with another config give other outputs."""
    return hashlib.sha256(config.to_json().encode()).hexdigest()


def code_digest(package: str | os.PathLike | None = None) -> str:
    """SHA-256 over the source of the modules that decide an output (inference, model, noise,
    image I/O, ONNX...: every .py file of `package`, default this one, except _NOT_OUTPUT_CODE)
    and the torch and Pillow versions: it changes whenever outputs can, without anyone having to
    remember to bump a number. This package's is read once per process."""
    return _sources_digest(Path(package)) if package is not None else _this_package_digest()


@functools.lru_cache(maxsize=1)
def _this_package_digest() -> str:
    return _sources_digest(Path(__file__).parent)


def _sources_digest(folder: Path) -> str:
    import PIL

    digest = hashlib.sha256(f"torch {torch.__version__}\nPillow {PIL.__version__}\n".encode())
    for path in sorted(folder.glob("*.py")):
        if path.name not in _NOT_OUTPUT_CODE:
            digest.update(f"{path.name}\n".encode() + path.read_bytes() + b"\n")
    return digest.hexdigest()


def output_identity(weights_sha256: str, config) -> dict[str, str]:
    """What decides a model's outputs besides the settings: its weights, its config and the code;
    the key of the ONNX export cache and part of a batch journal's "done" record."""
    return {"weights_sha256": weights_sha256, "config_sha256": config_digest(config), "code_sha256": code_digest()}
