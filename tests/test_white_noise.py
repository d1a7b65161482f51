"""The white-noise check (denoiser.white_noise): which of the photo model's two noise levels to trust."""

import numpy as np
import pytest
import torch

from denoiser.degrade import jpeg
from denoiser.white_noise import CHROMA_RATIO, WHITE_RATIO, chroma_ratio, white_noise_check


def _smooth_image(size: int = 128) -> np.ndarray:
    """A smooth colour image (gradients and a soft blob): little fine detail of its own."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    blob = np.exp(-((yy - 0.4) ** 2 + (xx - 0.6) ** 2) * 8)
    return np.stack([0.3 + 0.4 * xx, 0.3 + 0.3 * yy + 0.2 * blob, 0.6 - 0.3 * blob], axis=2).astype(np.float32)


def test_white_noise_check_takes_the_wavelet_level_on_white_noise_and_the_learned_one_on_correlated():
    assert white_noise_check(30.0, 20.0) == (20.0, 0.0)  # ratio 1.5: white noise, the wavelet estimate is right
    assert white_noise_check(40.0, 10.0) == (40.0, 1.0)  # ratio 4: correlated, the wavelet estimate under-reads
    middle = (WHITE_RATIO[0] + WHITE_RATIO[1]) / 2
    level, weight = white_noise_check(middle * 10, 10.0)
    assert weight == pytest.approx(0.5) and level == pytest.approx((middle * 10 + 10) / 2)
    assert white_noise_check(5.0, 0.0) == (5.0, 1.0)  # a clean image: no white-noise reading to trust
    levels = [white_noise_check(r * 10, 10.0)[0] for r in (1.0, 2.0, 2.2, 2.5, 2.7, 3.0)]
    assert all(a <= b for a, b in zip(levels, levels[1:]))  # continuous and monotone in the learned level



def test_white_rgb_noise_has_a_chroma_ratio_near_one_and_jpeg_removes_the_fine_chroma():
    rng = np.random.default_rng(0)
    clean = _smooth_image()
    for sigma in (5, 15, 50):
        noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * sigma / 255
        assert chroma_ratio(noisy) == pytest.approx(1.0, abs=0.15)
        jpegged = jpeg(torch.from_numpy(noisy.clip(0, 1).transpose(2, 0, 1).copy()), 80).numpy().transpose(1, 2, 0)
        assert chroma_ratio(jpegged) < CHROMA_RATIO[0]  # 4:2:0 subsampling: no fine chroma noise left
    same = clean + rng.standard_normal(clean.shape[:2] + (1,)).astype(np.float32) * 0.1  # identical in R, G, B
    assert chroma_ratio(same) < CHROMA_RATIO[0]


def test_chroma_ratio_is_unknown_for_gray_images():
    gray = np.random.default_rng(1).random((32, 32), dtype=np.float32)
    assert chroma_ratio(gray) is None and chroma_ratio(gray[..., None]) is None
    assert chroma_ratio(np.repeat(gray[..., None], 3, axis=2)) is None  # gray stored as RGB
    assert chroma_ratio(np.zeros((1, 5, 3), np.float32)) is None  # too small for a 2x2 detail


def test_either_test_saying_correlated_gives_the_learned_level():
    assert white_noise_check(30.0, 20.0, chroma=1.0) == (20.0, 0.0)  # both white: the wavelet level
    assert white_noise_check(30.0, 20.0, chroma=0.05) == (30.0, 1.0)  # JPEG'd: fine chroma gone, learned
    assert white_noise_check(40.0, 10.0, chroma=1.0) == (40.0, 1.0)  # spatially correlated: learned
    assert white_noise_check(30.0, 20.0, chroma=None) == white_noise_check(30.0, 20.0)  # gray: the ratio decides
    middle = (CHROMA_RATIO[0] + CHROMA_RATIO[1]) / 2
    level, weight = white_noise_check(30.0, 20.0, chroma=middle)
    assert weight == pytest.approx(0.5) and level == pytest.approx(25.0)
    levels = [white_noise_check(30.0, 20.0, chroma=c)[0] for c in (1.0, 0.3, 0.25, 0.2, 0.15, 0.0)]
    assert all(a <= b for a, b in zip(levels, levels[1:]))  # continuous and monotone as fine chroma falls


def test_the_thresholds_are_the_ones_the_validation_data_set():
    """Literal numbers from the module's notes, so a moved threshold fails here: resize-correlated
    noise (learned / wavelet from 2.9) is correlated; AWGN (up to 2.0) is white; JPEG'd AWGN (fine
    chroma up to 0.09) and PolyU's scenes (up to 0.21) are correlated by their chroma."""
    assert white_noise_check(29.0, 10.0, 1.0)[1] == 1.0
    assert white_noise_check(20.0, 10.0, 1.0)[1] == 0.0
    assert white_noise_check(15.0, 10.0, 0.09)[1] == 1.0
    assert white_noise_check(15.0, 10.0, 0.2)[1] == pytest.approx(2 / 3)
    assert white_noise_check(15.0, 10.0, 0.49)[1] == 0.0


def test_the_chroma_ratio_is_scaled_to_one_for_white_noise_and_counts_both_chroma_planes():
    rng = np.random.default_rng(0)
    white = 0.5 + rng.normal(0, 0.05, (1024, 1024, 3)).astype(np.float32)
    assert chroma_ratio(white) == pytest.approx(1.0, abs=0.015)  # unscaled, it reads 0.958
    red = np.full((1024, 1024, 3), 0.5, np.float32)
    red[..., 0] += rng.normal(0, 0.05, (1024, 1024)).astype(np.float32)  # noise in R alone: Cr >> Cb
    assert chroma_ratio(red) == pytest.approx(1.153, abs=0.015)  # Cb alone: 0.605
