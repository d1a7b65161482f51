"""The shipped weights (where this checkout has them) denoise for real: a minimum PSNR gain."""

import numpy as np
import pytest

import denoiser
from denoiser.evaluate import awgn
from denoiser.hub import SHIPPED_DIR
from denoiser.metrics import psnr


def shipped(name: str):
    if not (SHIPPED_DIR / name / "model.safetensors").is_file():
        pytest.skip(f"this checkout has no shipped {name!r} weights")
    return denoiser.load_model(name)


@pytest.mark.parametrize("image_name, sigma, gain", [("astronaut", 25, 8.0), ("camera", 25, 7.0), ("astronaut", 50, 10.0)])
def test_gaussian_model_gain(image_name, sigma, gain):
    from skimage import data

    model = shipped("gaussian")
    clean = getattr(data, image_name)()[:256, :256]
    noisy = awgn(clean, sigma, 0, 0)
    for given in (sigma, None):  # true sigma, and estimated
        assert psnr(clean, denoiser.denoise(noisy, model, sigma=given)) > psnr(clean, noisy) + gain


def test_real_model_improves_camera_like_noise():
    import torch
    from skimage import data

    from denoiser.noise import Camera

    model = shipped("real")
    clean = data.astronaut()[:256, :256]
    y = torch.from_numpy(clean / 255.0).permute(2, 0, 1).float()
    noisy = Camera(0.004, 2e-5, bayer=True)(y, torch.Generator().manual_seed(0)).permute(1, 2, 0).numpy()
    out = denoiser.denoise(noisy, model)
    assert psnr(clean, out) > psnr(clean, noisy) + 2.0
    assert np.allclose(denoiser.denoise(noisy, model, strength=0.0), np.clip(noisy, 0, 1), atol=1e-6)
