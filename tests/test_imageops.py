"""denoiser_app.imageops: the image helpers of the app's pages."""

from __future__ import annotations

import numpy as np
import pytest

from denoiser.io import to_float
from denoiser.metrics import psnr, ssim
from denoiser_app.imageops import center_crop, colour_planes, describe, psnr_ssim, residual_map, split_alpha, to_display

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def test_split_alpha_and_colour_planes():
    rgba = np.dstack([RGB, np.full((20, 30), 9, np.uint8)])
    planes, alpha = split_alpha(rgba)
    np.testing.assert_array_equal(planes, RGB)
    np.testing.assert_array_equal(alpha[..., 0], 9)
    assert split_alpha(RGB)[1] is None and split_alpha(RGB[..., 0])[1] is None
    gray_alpha = np.dstack([RGB[..., 0], RGB[..., 1]])
    assert colour_planes(gray_alpha).shape == (20, 30) and colour_planes(RGB[..., :1]).shape == (20, 30)
    assert describe(rgba) == "30x20 RGBA 8-bit" and describe(RGB[..., 0].astype(np.uint16)) == "30x20 gray 16-bit"


def test_to_display_is_8_bit_and_clipped():
    assert to_display(RGB) is RGB
    np.testing.assert_array_equal(to_display(RGB.astype(np.uint16) * 257), RGB)
    np.testing.assert_array_equal(to_display(np.array([[-0.5, 0.5, 2.0]], np.float32)), [[0, 128, 255]])


def test_residual_map_is_centred_and_amplified():
    noisy = RGB.astype(np.float32) / 255
    image, gain = residual_map(noisy, noisy, 25)
    assert image.dtype == np.uint8 and image.shape == RGB.shape and (image == 128).all()  # nothing removed: gray
    image, gain = residual_map(noisy, np.clip(noisy - 0.01, 0, 1), 10)
    assert gain == pytest.approx(0.5 / (30 / 255)) and image.mean() > 128
    assert residual_map(noisy, noisy, 0)[1] == 20.0  # the gain is bounded


def test_center_crop_keeps_the_aspect_and_the_limit():
    big = np.zeros((400, 600, 3), np.uint8)
    crop, box = center_crop(big, 60_000)
    assert crop.shape == (200, 300, 3) and box == (150, 100, 300, 200)  # (left, top, width, height)
    same, box = center_crop(big, 10**6)
    assert same is big and box is None


def test_psnr_ssim_ignores_alpha_and_scores_like_the_metrics():
    noisy = np.clip(RGB.astype(int) + RNG.integers(-20, 20, RGB.shape), 0, 255).astype(np.uint8)
    rgba = np.dstack([noisy, np.zeros((20, 30), np.uint8)])
    assert psnr_ssim(RGB, rgba) == (psnr(RGB, noisy), ssim(RGB, noisy))
    as16 = noisy.astype(np.uint16) * 257
    assert psnr_ssim(RGB, as16)[0] == pytest.approx(psnr(RGB, to_float(as16)))
