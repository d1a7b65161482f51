"""Helpers shared by the app's tests: tiny random-weight models of the three kinds, test images, a
server on a free loopback port and a headless Chromium. Nothing here needs the network."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
H, W = 48, 72  # small and not a multiple of the network's stride
TINY = dict(widths=(8, 16), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1)


def tiny_model(kind: str, seed: int = 0) -> torch.nn.Module:
    """A random-weight U-Net: 'photo' (with a noise estimator), 'gaussian' (takes σ) or 'blind'."""
    from denoiser.model import build_model, preset

    torch.manual_seed(seed)
    config = {
        "photo": lambda: preset("photo", estimator_width=8, **TINY),
        "gaussian": lambda: preset("default", **TINY),
        "blind": lambda: preset("default", noise_map=False, **TINY),
    }[kind]()
    return build_model(config).eval()


def save_tiny(kind: str, folder: Path, seed: int = 0) -> Path:
    from denoiser.hub import save_model

    return save_model(tiny_model(kind, seed), folder)


def clean_image(height: int = H, width: int = W) -> np.ndarray:
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[100 : 100 + height, 150 : 150 + width])


def noisy_image(clean: np.ndarray, sigma: float = 25, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    peak = np.iinfo(clean.dtype).max
    noisy = clean.astype(np.float64) + rng.normal(0, sigma / 255 * peak, clean.shape)
    return np.clip(np.rint(noisy), 0, peak).astype(clean.dtype)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(blocks):
    """Launch a demo on a free loopback port as `python app.py` does; yields its URL, then closes it."""
    from denoiser_app import launch

    _, url, _ = launch(blocks, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    blocks.close()


def chromium_or_skip():
    """playwright's sync_api, or a skip. In CI (env CI set) a missing browser fails instead: the
    browser tests are the page's only guard, and .ci/run installs Chromium."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            from playwright import sync_api
        except ImportError:
            problem = "the playwright package is not installed (pip install playwright)"
    if problem is None:
        return sync_api
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {problem}")
    pytest.skip(problem)
