import numpy as np
import pytest
import torch

from denoiser.io import to_float
from denoiser.noise import NLF, Gaussian, Mask, Poisson, SaltPepper, estimate_nlf, estimate_sigma, make_noise, make_noisy


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


FLAT = torch.full((3, 128, 128), 0.5)
MODELS = [Gaussian(25), Poisson(30), SaltPepper(0.1), NLF(0.01, 0.0004), Mask(0.2)]


@pytest.mark.parametrize("noise", MODELS, ids=lambda n: type(n).__name__)
def test_same_seed_same_noise_and_input_untouched(noise):
    y = torch.rand(2, 3, 16, 16)
    before = y.clone()
    a, b, c = noise(y, gen(1)), noise(y, gen(1)), noise(y, gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(y, before) and a.shape == y.shape


def test_gaussian_statistics_and_no_clipping():
    x = Gaussian(25)(FLAT, gen())
    residual = x - FLAT
    assert abs(residual.mean()) < 2e-3
    assert residual.std().item() == pytest.approx(25 / 255, rel=0.02)
    y = torch.zeros(1, 64, 64)
    assert Gaussian(25)(y, gen()).min() < 0  # unclipped by default (published protocol)
    assert Gaussian(25, clip=True)(y, gen()).min() == 0


def test_poisson_statistics():
    peak = 30.0
    x = Poisson(peak)(FLAT, gen())
    assert x.mean().item() == pytest.approx(0.5, abs=3e-3)
    assert x.var().item() == pytest.approx(0.5 / peak, rel=0.03)


def test_salt_pepper_statistics():
    x = SaltPepper(0.1, salt=0.3)(FLAT, gen())
    changed = x != FLAT
    assert changed.float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert (x[changed] == 1).float().mean().item() == pytest.approx(0.3, abs=0.02)


def test_nlf_statistics_follow_signal():
    noise = NLF(0.01, 0.0004)
    for level in (0.3, 0.6):
        y = torch.full((3, 128, 128), level)
        x = noise(y, gen())
        assert x.var().item() == pytest.approx(0.01 * level + 0.0004, rel=0.04)
        assert 0 <= x.min() and x.max() <= 1


def test_mask_zeroes_whole_pixels():
    x = Mask(0.25)(FLAT, gen())
    zero = (x == 0).all(0)
    assert zero.float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert torch.equal((x == 0).any(0), zero)  # all channels of a pixel together


@pytest.mark.parametrize("kind, params", [("gaussian", {"sigma": -1}), ("gaussian", {"sigma": float("nan")}),
                                          ("poisson", {"peak": 0}), ("salt-pepper", {"amount": 1.5}),
                                          ("mask", {"fraction": -0.1}), ("gaussian", {"peak": 3})])
def test_bad_parameters_fail_loudly(kind, params):
    with pytest.raises(ValueError):
        make_noise(kind, **params)


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="speckle"):
        make_noise("speckle", sigma=1)


def test_estimate_sigma_on_natural_image():
    from skimage import data

    y = torch.from_numpy(data.astronaut() / 255.0).permute(2, 0, 1).float()
    for sigma in (10, 25, 50):
        x = Gaussian(sigma)(y, gen()).permute(1, 2, 0).numpy()
        assert estimate_sigma(x) == pytest.approx(sigma, rel=0.1)


def test_estimate_nlf_recovers_parameters():
    from skimage import data

    y = torch.from_numpy(data.astronaut() / 255.0).permute(2, 0, 1).float()
    x = NLF(0.01, 0.0004)(y, gen()).permute(1, 2, 0).numpy()
    beta1, beta2 = estimate_nlf(x)
    assert beta1 == pytest.approx(0.01, rel=0.25)
    assert 0 <= beta2 < 0.002
    # predicted noise std at mid-gray within 15%
    assert np.sqrt(beta1 * 0.5 + beta2) == pytest.approx(np.sqrt(0.01 * 0.5 + 0.0004), rel=0.15)


def test_camera_noise_is_signal_dependent_in_linear_light_and_correlated_after_demosaicking():
    from denoiser.noise import Camera, linear_to_srgb, srgb_to_linear

    y = torch.full((3, 128, 128), 0.5)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(y)), y, atol=1e-6)
    plain = Camera(0.004, 1e-5, bayer=False)(y, gen())
    linear_std = (srgb_to_linear(plain) - srgb_to_linear(y)).std().item()
    expected = np.sqrt(0.004 * srgb_to_linear(y)[0, 0, 0].item() + 1e-5)
    assert linear_std == pytest.approx(expected, rel=0.05)

    def neighbour_correlation(x):
        r = (x - y)[0]
        return torch.corrcoef(torch.stack([r[:, :-1].flatten(), r[:, 1:].flatten()]))[0, 1].item()

    assert abs(neighbour_correlation(plain)) < 0.05
    assert neighbour_correlation(Camera(0.004, 1e-5, bayer=True)(y, gen())) > 0.3
    jpeg = Camera(0.004, 1e-5, bayer=True, jpeg_quality=70)(y, gen())
    assert torch.equal(jpeg, Camera(0.004, 1e-5, bayer=True, jpeg_quality=70)(y, gen()))
    with pytest.raises(ValueError, match="RGB"):
        Camera(0.004, 1e-5)(torch.zeros(1, 8, 8), gen())


def test_make_noisy_is_make_noise_with_a_seeded_generator_on_the_colour_planes():
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    tensor = torch.from_numpy(to_float(rgb).transpose(2, 0, 1).copy())
    expected = make_noise("poisson", peak=20)(tensor, torch.Generator().manual_seed(3)).numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(make_noisy(rgb, "poisson", {"peak": 20}, 3), expected)
    np.testing.assert_array_equal(make_noisy(rgb, "raw", {"shot": 0.01, "read": 2e-4}, 1),
                                  make_noisy(rgb, "raw", {"shot": 0.01, "read": 2e-4}, 1))
    gray = make_noisy(rgb[..., 0], "gaussian", {"sigma": 10}, 0)
    assert gray.shape == (20, 30) and gray.dtype == np.float32
    assert not np.array_equal(gray, make_noisy(rgb[..., 0], "gaussian", {"sigma": 10}, 1))
    rgba = np.dstack([rgb, np.full((20, 30), 7, np.uint8)])  # alpha passes through; the colour gets the same noise
    noisy = make_noisy(rgba, "poisson", {"peak": 20}, 3)
    np.testing.assert_array_equal(noisy[..., :3], expected)
    np.testing.assert_array_equal(noisy[..., 3], np.float32(7 / 255))
