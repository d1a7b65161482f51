import numpy as np
import pytest

from denoiser.metrics import psnr, ssim


def test_psnr_matches_hand_computation_uint8():
    ref = np.full((8, 8, 3), 100, np.uint8)
    out = ref.copy()
    out[0, 0, 0] = 110  # one error of 10 over 192 values
    mse = 100 / 192
    assert psnr(ref, out) == pytest.approx(10 * np.log10(255**2 / mse))


def test_float_output_is_rounded_to_the_references_depth():
    ref = np.full((8, 8), 100, np.uint8)
    almost = ref / 255 + 0.4 / 255  # rounds back to 100
    assert psnr(ref, almost) == float("inf")
    ref16 = np.full((8, 8), 1000, np.uint16)
    out16 = ref16.astype(np.float64) / 65535
    out16[0, 0] = 1010 / 65535
    assert psnr(ref16, out16) == pytest.approx(10 * np.log10(65535**2 / (100 / 64)))


def test_unclipped_float_is_clipped_like_a_saved_file():
    ref = np.zeros((4, 4), np.uint8)
    assert psnr(ref, np.full((4, 4), -0.5)) == float("inf")


def test_ssim_known_values():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert ssim(ref, ref) == pytest.approx(1.0)
    # constant images with different means: SSIM = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1)
    a, b = np.full((16, 16), 100, np.uint8), np.full((16, 16), 120, np.uint8)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 100 * 120 + c1) / (100**2 + 120**2 + c1))


def test_alpha_is_ignored_and_bad_inputs_raise():
    ref = np.zeros((8, 8, 4), np.uint8)
    out = ref.copy()
    out[..., 3] = 255
    assert psnr(ref, out) == float("inf")
    with pytest.raises(ValueError, match="differ in size"):
        psnr(ref, ref[:4])
    with pytest.raises(ValueError, match="uint8 or uint16"):
        psnr(ref.astype(np.float32), ref)


def test_ssim_uses_population_statistics_in_a_gaussian_window():
    """Wang et al.'s SSIM written out: Gaussian window σ 1.5 (radius 5), means, variances and the
    covariance as population statistics (a sample n-1 normalisation reads about 1% different here),
    averaged over the pixels 5 or more from the border."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    noisy = np.clip(ref + rng.normal(0, 40, ref.shape), 0, 255).astype(np.uint8)
    x, y = ref.astype(np.float64), noisy.astype(np.float64)

    def blur(v):
        return gaussian_filter(v, 1.5, truncate=3.5, mode="reflect")

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    assert ssim(ref, noisy) == pytest.approx(s[5:-5, 5:-5].mean(), abs=1e-9)
