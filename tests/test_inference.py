import numpy as np
import pytest
import torch
from PIL import Image

from denoiser.inference import denoise, denoise_tensor
from denoiser.model import build_model, preset

from conftest import tiny_config


@pytest.mark.parametrize("shape", [(37, 29), (37, 29, 1), (37, 29, 2), (37, 29, 3), (37, 29, 4), (1, 1), (1, 9), (9, 1, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_shape_and_dtype_are_kept(tiny_model, shape, dtype):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        image = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    else:
        image = rng.random(shape, dtype=np.float32)
    out = denoise(image, tiny_model, sigma=10)
    assert out.shape == image.shape and out.dtype == image.dtype


def test_alpha_passes_through_untouched(tiny_model):
    rng = np.random.default_rng(1)
    for dtype in (np.uint8, np.uint16):
        image = rng.integers(0, np.iinfo(dtype).max, (20, 30, 4), dtype=dtype)
        assert np.array_equal(denoise(image, tiny_model, sigma=5)[..., 3], image[..., 3])


def test_pil_in_pil_out(tiny_model):
    for mode in ("L", "RGB", "RGBA"):
        image = Image.new(mode, (23, 17), color=128 if mode == "L" else (128,) * len(mode))
        out = denoise(image, tiny_model, sigma=5)
        assert isinstance(out, Image.Image) and out.size == image.size and out.mode == mode


@pytest.mark.parametrize("config", [tiny_config(), preset("default"), preset("seed", seed_depth=2, seed_filters=8)])
def test_tiled_equals_whole_image_on_odd_size(config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    x = torch.rand(1, 3, 157, 203)
    sigma = torch.full((1, 1, 1, 1), 25 / 255)
    whole = denoise_tensor(x, model, sigma, tile=None)
    tiled = denoise_tensor(x, model, sigma, tile=40)
    assert (whole - tiled).abs().max() <= 1e-5


def test_tiles_report_progress_and_model_mode_is_restored(tiny_model):
    calls = []
    tiny_model.train()
    denoise(np.zeros((100, 70, 3), np.uint8), tiny_model, sigma=10, tile=32, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] > 1
    assert tiny_model.training


def test_unclipped_float_input_is_accepted(tiny_model):
    image = np.random.default_rng(0).normal(0.5, 0.4, (16, 16, 3)).astype(np.float32)
    assert image.min() < 0 and image.max() > 1
    out = denoise(image, tiny_model, sigma=25)
    assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_gray_model_on_colour_and_colour_model_on_gray():
    torch.manual_seed(0)
    gray_model = build_model(tiny_config(channels=1)).eval()
    assert denoise(np.zeros((10, 12, 3), np.uint8), gray_model, sigma=5).shape == (10, 12, 3)


@pytest.mark.parametrize("sigma", [-1, float("nan"), 1e6, "loud"])
def test_bad_sigma_is_a_clear_error(tiny_model, sigma):
    with pytest.raises(ValueError, match="sigma"):
        denoise(np.zeros((8, 8), np.uint8), tiny_model, sigma=sigma)


def test_bad_arrays_are_clear_errors(tiny_model):
    with pytest.raises(ValueError, match="shape"):
        denoise(np.zeros((8, 8, 5), np.uint8), tiny_model, sigma=5)
    with pytest.raises(ValueError, match="empty"):
        denoise(np.zeros((0, 8), np.uint8), tiny_model, sigma=5)
    with pytest.raises(ValueError, match="NaN"):
        denoise(np.full((8, 8), np.nan, np.float32), tiny_model, sigma=5)
    with pytest.raises(ValueError, match="dtype"):
        denoise(np.zeros((8, 8), np.int32), tiny_model, sigma=5)


def test_sigma_none_uses_the_white_noise_estimate(tiny_model):
    from denoiser.noise import estimate_sigma

    rng = np.random.default_rng(0)
    image = np.clip(0.5 + rng.normal(0, 20 / 255, (48, 48, 3)), 0, 1).astype(np.float32)
    estimated = estimate_sigma(image)
    assert estimated == pytest.approx(20, abs=1.5)  # a real estimate, not a default
    assert np.array_equal(denoise(image, tiny_model), denoise(image, tiny_model, sigma=estimated))
    assert not np.array_equal(denoise(image, tiny_model), denoise(image, tiny_model, sigma=0))


def test_strength_scales_the_noise_level(tiny_model):
    image = np.random.default_rng(0).random((24, 24, 3), dtype=np.float32)
    assert np.array_equal(denoise(image, tiny_model, sigma=25, strength=0.5), denoise(image, tiny_model, sigma=12.5))
    assert np.array_equal(denoise(image, tiny_model, sigma=10, strength=3), denoise(image, tiny_model, sigma=30))
    for bad in (-0.1, 4.5, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="strength"):
            denoise(image, tiny_model, sigma=25, strength=bad)


def test_blind_model_takes_no_sigma_or_strength():
    torch.manual_seed(0)
    blind = build_model(tiny_config(noise_map=False)).eval()
    image = np.zeros((20, 20, 3), np.uint8)
    assert denoise(image, blind).shape == image.shape
    for kwargs in ({"sigma": 40}, {"strength": 0.5}):
        with pytest.raises(ValueError, match="blind"):
            denoise(image, blind, **kwargs)


@pytest.fixture(scope="module")
def estimator_model():
    torch.manual_seed(0)
    return build_model(tiny_config(estimator=True, estimator_width=8)).eval()


def test_estimator_model_uses_its_own_map_scaled_by_strength(estimator_model):
    from denoiser.inference import estimate_noise

    image = np.random.default_rng(1).random((40, 48, 3), dtype=np.float32)
    x = torch.from_numpy(image.transpose(2, 0, 1))[None]
    with torch.no_grad():
        estimate = estimator_model.estimator(x)
        median = float(estimate.median())
        for strength in (0.5, 1.0, 2.5):
            # default: one level for the image, the median of the learned map
            expected = estimator_model(x, torch.full((1, 1, 1, 1), median * strength))[0].numpy().transpose(1, 2, 0)
            assert np.abs(denoise(image, estimator_model, strength=strength) - expected.clip(0, 1)).max() < 1e-4
            # per_pixel: the map itself
            expected = estimator_model(x, estimate * strength)[0].numpy().transpose(1, 2, 0).clip(0, 1)
            got = denoise(image, estimator_model, strength=strength, per_pixel=True)
            assert np.abs(got - expected).max() < 1e-5
    # a given sigma replaces the estimate
    assert np.array_equal(denoise(image, estimator_model, sigma=30, strength=0.5), denoise(image, estimator_model, sigma=15))
    report = estimate_noise(image, estimator_model)
    assert report.method == "learned" and report.map.shape == image.shape[:2]
    assert report.sigma == pytest.approx(float(np.median(estimate[0, 0].numpy() * 255)), rel=1e-4)


def test_estimator_model_tiles_exactly(estimator_model):
    x = torch.rand(1, 3, 75, 93)
    whole = denoise_tensor(x, estimator_model, None, tile=None, noise_scale=1.7)
    tiled = denoise_tensor(x, estimator_model, None, tile=16, noise_scale=1.7)
    assert (whole - tiled).abs().max() <= 1e-5


def test_loaded_models_run_channels_last_with_the_same_result(tiny_model, tiny_model_dir):
    from denoiser.hub import load_model

    loaded = load_model(tiny_model_dir)
    x = torch.rand(1, 3, 45, 61)
    sigma = torch.full((1, 1, 1, 1), 0.1)
    a = denoise_tensor(x, tiny_model, sigma, tile=None)
    b = denoise_tensor(x, loaded, sigma, tile=None)
    c = denoise_tensor(x, loaded, sigma, tile=16)
    assert (a - b).abs().max() <= 1e-5 and (b - c).abs().max() <= 1e-5


def test_self_ensemble_is_the_mean_of_the_eight_transforms(tiny_model):
    image = np.random.default_rng(0).random((21, 34, 3), dtype=np.float32)
    x = torch.from_numpy(image.transpose(2, 0, 1))[None]
    sigma = torch.full((1, 1, 1, 1), 25 / 255)
    outs = []
    for flip in (False, True):
        for turns in range(4):
            view = torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))
            out = torch.rot90(denoise_tensor(view, tiny_model, sigma), -turns, dims=(-2, -1))
            outs.append(out.flip(-1) if flip else out)
    expected = torch.stack(outs).mean(0)[0].numpy().transpose(1, 2, 0).clip(0, 1)
    got = denoise(image, tiny_model, sigma=25, ensemble=True)
    assert got.shape == image.shape and np.abs(got - expected).max() < 1e-5


def test_a_model_with_the_white_noise_check_gives_the_checked_level(estimator_model):
    """Only a model whose config asks for it (photo v2) has its learned level checked against the
    wavelet estimate; for it, denoise() uses exactly the checked level."""
    from denoiser.inference import estimate_noise
    from denoiser.noise import estimate_sigma
    from denoiser.white_noise import chroma_ratio, white_noise_check

    checked = build_model(tiny_config(estimator=True, estimator_width=8, white_noise_check=True)).eval()
    checked.load_state_dict(estimator_model.state_dict())
    image = np.random.default_rng(2).random((40, 48, 3), dtype=np.float32)
    plain, report = estimate_noise(image, estimator_model), estimate_noise(image, checked)
    level, weight = white_noise_check(plain.sigma, estimate_sigma(image), chroma_ratio(image))
    assert report.sigma == pytest.approx(level) and report.learned_weight == weight
    assert np.array_equal(denoise(image, checked), denoise(image, estimator_model, sigma=level))


def test_a_perfectly_flat_photo_comes_back_flat_not_nan():
    """A black frame or a flat grey card: the white-noise estimate has no detail to measure (skimage gives NaN);
    the level is 0, and the output is the input's value, not NaN cast to 0."""
    from denoiser import load_model
    from denoiser.inference import denoise
    from denoiser.noise import estimate_sigma

    assert estimate_sigma(np.full((32, 32, 3), 0.5)) == pytest.approx(0.0, abs=1e-6)
    assert estimate_sigma(np.zeros((32, 32, 3))) == 0.0
    for value in (0, 128):
        out = denoise(np.full((64, 64, 3), value, np.uint8), load_model("photo"))
        assert np.abs(out.astype(int) - value).mean() < 1 and np.abs(out.astype(int) - value).max() <= 8
