"""The photo model's training degradations: statistics, seeds, and the camera pipeline's round trip."""

import numpy as np
import pytest
import torch

from denoiser.degrade import ColorGaussian, Raw, camera_matrix, inverse_tone, resize_correlated, sample_raw, tone
from denoiser.noise import make_noise
from denoiser_train.data import local_noise_std, sample_color_gaussian


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def neighbour_correlation(noise: torch.Tensor) -> float:
    a, b = noise[..., :, :-1].flatten(), noise[..., :, 1:].flatten()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


FLAT = torch.full((3, 128, 128), 0.5)


def test_color_gaussian_std_channel_correlation_and_seed():
    for rho in (0.0, 0.5, 0.9):
        noise = ColorGaussian(20, rho=rho)(FLAT, gen()) - FLAT
        assert noise.std().item() * 255 == pytest.approx(20, rel=0.03)
        r = float(torch.corrcoef(noise.reshape(3, -1))[0, 1])
        assert r == pytest.approx(rho, abs=0.03)
        assert neighbour_correlation(noise) == pytest.approx(0, abs=0.03)  # white in space
    model = ColorGaussian(20, rho=0.3, jpeg_quality=60)
    assert torch.equal(model(FLAT, gen(1)), model(FLAT, gen(1)))
    assert not torch.equal(model(FLAT, gen(1)), model(FLAT, gen(2)))


def test_resize_correlation_keeps_the_std_and_correlates_neighbours():
    white = torch.randn(3, 96, 96, generator=gen())
    assert torch.equal(resize_correlated(white, 1.0), white)
    blobs = resize_correlated(white, 0.5)
    assert blobs.std().item() == pytest.approx(white.std().item(), rel=0.05)
    assert neighbour_correlation(blobs) > 0.5
    noisy = ColorGaussian(20, scale=0.5)(FLAT, gen())
    assert neighbour_correlation(noisy - FLAT) > 0.5


def test_jpeg_after_noise_removes_some_of_it():
    clean = FLAT
    plain = ColorGaussian(25)(clean, gen()) - clean
    compressed = ColorGaussian(25, jpeg_quality=30)(clean, gen()) - clean
    assert compressed.std() < 0.8 * plain.std()


def test_tone_curve_and_camera_matrix_invert():
    y = torch.linspace(0, 1, 101)
    assert torch.allclose(tone(inverse_tone(y)), y, atol=1e-5)
    m = camera_matrix((0.2, 0.3, 0.1, 0.4))
    assert torch.allclose(m.sum(1), torch.ones(3, dtype=m.dtype))  # white stays white


def test_raw_pipeline_round_trips_the_clean_image():
    y = torch.rand(3, 32, 32, generator=gen()) * 0.7 + 0.1
    camera = Raw(0.0, 0.0, red_gain=2.2, blue_gain=1.6, brightness=1.3, mix=(0.1, 0.5, 0.2, 0.2))
    assert torch.allclose(camera.process(camera.unprocess(y)), y, atol=1e-4)
    x = camera(y, gen())  # no noise: only 8-bit rounding
    assert (x - y).abs().max() <= 0.5 / 255 + 1e-6


def test_raw_noise_is_signal_dependent_correlated_and_seeded():
    camera = Raw(0.005, 1e-6, mix=(1, 0, 0, 0))
    dark, bright = torch.full((3, 96, 96), 0.3), torch.full((3, 96, 96), 0.8)
    dark_noise, bright_noise = camera(dark, gen()) - dark, camera(bright, gen()) - bright
    assert abs(dark_noise.mean()) < 0.01 and abs(bright_noise.mean()) < 0.01
    # Back in linear raw, the variance follows shot * x + read (Poisson-Gaussian), channel by channel
    for channel in range(3):
        observed, expected = [], []
        for clean in (dark, bright):
            raw_clean = camera.unprocess(clean)
            raw_noise = camera.unprocess(camera(clean, gen())) - raw_clean
            observed.append(raw_noise[channel].var().item())
            expected.append(camera.shot * raw_clean[channel].mean().item() + camera.read)
        assert observed[1] / observed[0] == pytest.approx(expected[1] / expected[0], rel=0.15)
        assert expected[1] / expected[0] > 1.8  # the check has teeth: the levels differ a lot
    assert neighbour_correlation(bright_noise) > 0.2  # demosaicking correlates neighbours
    assert torch.equal(camera(bright, gen(3)), camera(bright, gen(3)))
    assert not torch.equal(camera(bright, gen(3)), camera(bright, gen(4)))
    more = Raw(0.02, 1e-4, mix=(1, 0, 0, 0))(bright, gen()) - bright
    assert more.std() > 1.5 * bright_noise.std()
    with pytest.raises(ValueError, match="RGB"):
        camera(torch.zeros(1, 8, 8), gen())


def test_samplers_are_seeded_and_in_range():
    a, b = sample_raw(0.01, np.random.default_rng(5)), sample_raw(0.01, np.random.default_rng(5))
    assert a == b
    cameras = [sample_raw(0.01, np.random.default_rng(i)) for i in range(200)]
    assert all(1.9 <= c.red_gain <= 2.4 and 1.5 <= c.blue_gain <= 1.9 for c in cameras)
    qualities = [c.jpeg_quality for c in cameras if c.jpeg_quality is not None]
    assert 60 < len(qualities) < 140 and min(qualities) >= 30 and max(qualities) <= 95
    noises = [sample_color_gaussian(25, np.random.default_rng(i)) for i in range(200)]
    assert any(n.scale < 1 for n in noises) and any(n.scale == 1 for n in noises)
    assert all(0 <= n.rho <= 1 for n in noises)


def test_make_noise_builds_the_new_kinds_and_rejects_bad_values():
    assert isinstance(make_noise("raw", shot=0.01, read=1e-4), Raw)
    assert isinstance(make_noise("color-gaussian", sigma=10), ColorGaussian)
    with pytest.raises(ValueError, match="rho"):
        make_noise("color-gaussian", sigma=10, rho=2)
    with pytest.raises(ValueError, match="jpeg_quality"):
        make_noise("raw", shot=0.01, read=1e-4, jpeg_quality=0)


def test_local_noise_std_reads_a_known_map():
    clean = torch.full((3, 64, 128), 0.5)
    sigma = torch.cat([torch.full((64, 64), 10.0), torch.full((64, 64), 40.0)], 1) / 255
    noisy = clean + sigma * torch.randn(clean.shape, generator=gen())
    noise_map = local_noise_std(noisy, clean)
    assert noise_map.shape == (1, 64, 128)
    assert noise_map[0, :, :56].mean().item() * 255 == pytest.approx(10, rel=0.05)
    assert noise_map[0, :, 72:].mean().item() * 255 == pytest.approx(40, rel=0.05)


def test_blotchy_raw_noise_keeps_its_local_level_and_grows_its_grain():
    scene = torch.cat([torch.full((3, 96, 48), 0.2), torch.full((3, 96, 48), 0.8)], 2)
    fine, blotchy = (Raw(0.005, 1e-5, blotch=b)(scene, gen()) - scene for b in (1, 3))
    for part in (slice(0, 40), slice(56, 96)):  # the dark and the bright half, away from the edge
        assert blotchy[..., part].std().item() == pytest.approx(fine[..., part].std().item(), rel=0.1)
    assert neighbour_correlation(blotchy) > neighbour_correlation(fine) + 0.1
    with pytest.raises(ValueError, match="blotch"):
        Raw(0.005, 1e-5, blotch=0)


def test_mhc_demosaic_is_exact_on_smooth_images_and_keeps_more_fine_noise_than_bilinear():
    from denoiser.degrade import bayer_masks, sensor_noise as raw_sensor_noise
    from denoiser_train.phone import mhc_demosaic, sensor_noise

    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    smooth = torch.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx])  # linear ramps: both are exact inside
    masks = bayer_masks(48, 48, torch.float32)
    inner = (slice(None), slice(4, -4), slice(4, -4))
    assert torch.allclose(mhc_demosaic(smooth * masks)[inner], smooth[inner], atol=1e-5)
    assert torch.equal(mhc_demosaic(smooth * masks) * masks, smooth * masks)  # sampled values kept as they are
    raw = torch.full((3, 96, 96), 0.4)
    bilinear, sharp = (sensor_noise(raw, 0.01, 1e-4, gen(), sharpness=s) for s in (0.0, 1.0))
    assert torch.equal(bilinear, raw_sensor_noise(raw, 0.01, 1e-4, gen()))  # 0: the core's bilinear, as Raw has it
    assert neighbour_correlation(sharp) < neighbour_correlation(bilinear) - 0.2  # whiter: less correlated
    half = sensor_noise(raw, 0.01, 1e-4, gen(), sharpness=0.5)
    assert torch.allclose(half, (bilinear + sharp) / 2, atol=1e-6)  # a linear blend of the two


def test_mhc_demosaic_matches_malvar_he_cutler_by_hand_on_a_curved_image():
    """On a quadratic image (where the Laplacian correction matters; on a linear one it is zero), the
    missing values at a red and a blue site are Malvar, He and Cutler's (ICASSP 2004) formulas written
    out: bilinear estimate + gain x the sampled channel's Laplacian, gains 1/2 (G at R/B) and 3/4 (R at B,
    B at R: the diagonal ones)."""
    from denoiser.degrade import bayer_masks
    from denoiser_train.phone import mhc_demosaic

    y, x = torch.meshgrid(torch.arange(20.0, dtype=torch.float64), torch.arange(20.0, dtype=torch.float64),
                          indexing="ij")
    image = torch.stack([0.002 * x**2 + 0.001 * x * y + 0.01 * y,  # R, G, B: different curvatures
                         0.001 * y**2 - 0.0015 * x * y + 0.02 * x,
                         0.003 * y**2 + 0.002 * x**2 - 0.01 * x])
    out = mhc_demosaic(image * bayer_masks(20, 20, torch.float64))
    R, G, B = image

    def axis2(c, i, j):  # the same channel two pixels away along the axes
        return (c[i - 2, j] + c[i + 2, j] + c[i, j - 2] + c[i, j + 2]) / 4

    def diagonals(c, i, j):
        return (c[i - 1, j - 1] + c[i - 1, j + 1] + c[i + 1, j - 1] + c[i + 1, j + 1]) / 4

    def cross(c, i, j):
        return (c[i - 1, j] + c[i + 1, j] + c[i, j - 1] + c[i, j + 1]) / 4

    i, j = 8, 10  # a red site (RGGB: even row, even column)
    assert out[2, i, j].item() == pytest.approx((diagonals(B, i, j) + 3 / 4 * (R[i, j] - axis2(R, i, j))).item(), abs=1e-12)
    assert out[1, i, j].item() == pytest.approx((cross(G, i, j) + 1 / 2 * (R[i, j] - axis2(R, i, j))).item(), abs=1e-12)
    i, j = 9, 11  # a blue site
    assert out[0, i, j].item() == pytest.approx((diagonals(R, i, j) + 3 / 4 * (B[i, j] - axis2(B, i, j))).item(), abs=1e-12)
    assert out[1, i, j].item() == pytest.approx((cross(G, i, j) + 1 / 2 * (B[i, j] - axis2(B, i, j))).item(), abs=1e-12)
    # the correction is not negligible here: a halved gain would move the value by more than the tolerance
    assert abs((B[i, j] - axis2(B, i, j)).item()) > 1e-3
