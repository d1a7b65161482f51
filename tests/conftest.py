"""Shared fixtures: small models built and saved by the tests themselves, and the data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from denoiser.hub import save_model
from denoiser.model import build_model, preset

DATA = Path(os.environ.get("DENOISER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

torch.set_num_threads(1)  # tests are small; leave the other core to the rest of the machine


def tiny_config(**overrides):
    """A two-level U-Net small enough to run in milliseconds."""
    return preset("default", widths=(8, 16), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1, **overrides)


@pytest.fixture
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(tiny_config()).eval()


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_model) -> Path:
    return save_model(tiny_model, tmp_path / "tiny-model")


def data_dir(name: str) -> Path:
    """A folder of ../shared/data (or $DENOISER_DATA); skips the test where it is absent."""
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"data set {name} not found at {path} (set DENOISER_DATA)")
    return path


@pytest.fixture
def held_out_files(monkeypatch, tmp_path_factory):
    """hold(paths): make these files the documented validation split (a manifest of their SHA-256,
    as denoiser/heldout/ ships for ImageNet-val), for this test only."""
    import hashlib
    import json

    import denoiser.splits as splits

    def hold(paths):
        files = [{"name": Path(p).name, "size": Path(p).stat().st_size,
                  "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()} for p in paths]
        manifest = tmp_path_factory.mktemp("heldout") / "test_val.json"
        manifest.write_text(json.dumps({"split": "test-val", "files": files}))
        monkeypatch.setattr(splits, "HELD_OUT_MANIFESTS", {"test-val": manifest})

    return hold
