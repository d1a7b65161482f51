"""The phone-camera noise model: seeds, levels, each pipeline step's effect on the noise, the tables."""

import numpy as np
import pytest
import torch

from denoiser_train.phone import CameraTables, Phone, gaussian_blur, in_camera_denoise, sample_phone, sharpen
from tools.noise_stats import statistics

from conftest import data_dir


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


GRAY = torch.full((3, 96, 96), 0.4)


def test_same_seed_same_noise_and_level_grows_with_shot():
    model = Phone(shot=4e-3, read=1e-5, sharpen=1.0, nr_chroma=1.0, jpeg_quality=90)
    assert torch.equal(model(GRAY, gen(1)), model(GRAY, gen(1)))
    assert not torch.equal(model(GRAY, gen(1)), model(GRAY, gen(2)))
    stds = [float((Phone(shot=s, read=1e-6)(GRAY, gen()) - GRAY).std()) for s in (1e-4, 1e-3, 1e-2)]
    assert stds[0] < stds[1] < stds[2]


def test_clean_signal_is_exact_without_noise():
    ramp = torch.linspace(0, 1, 64).expand(3, 64, 64).clone()
    out = Phone(shot=0.0, read=0.0, sharpen=2.0, nr_chroma=2.0)(ramp, gen())
    assert torch.allclose(out, (ramp * 255).round() / 255, atol=1e-6)  # only the 8-bit rounding


def test_in_camera_denoise_leaves_low_frequency_chroma_and_sharpening_adds_high_frequencies():
    noise = torch.randn(3, 128, 128, generator=gen()) * 0.05
    white = statistics(noise)
    reduced = statistics(in_camera_denoise(noise, luma=0.0, chroma_sigma=2.0))
    assert reduced["chroma/luma"] < 0.5 * white["chroma/luma"]  # chroma noise removed more than luma
    assert torch.allclose(in_camera_denoise(noise, 0.0, 2.0).mean(0), noise.mean(0), atol=1e-5)  # luma untouched
    assert statistics(in_camera_denoise(noise, 0.8, 0.0))["high-freq share"] < white["high-freq share"] - 0.02
    smooth = gaussian_blur(noise, 1.0)
    assert statistics(sharpen(smooth, 2.0))["high-freq share"] > 1.5 * statistics(smooth)["high-freq share"]
    assert torch.equal(sharpen(noise, 0.0), noise)


def test_bad_parameters_name_the_field():
    with pytest.raises(ValueError, match="sharpen"):
        Phone(shot=1e-3, read=1e-6, sharpen=-1)
    with pytest.raises(ValueError, match="shot"):
        Phone(shot=float("nan"), read=1e-6)
    with pytest.raises(ValueError, match="RGB"):
        Phone(shot=1e-3, read=1e-6)(torch.zeros(1, 8, 8), gen())


def test_tables_and_sampler():
    tables = CameraTables.load(data_dir("camera"))
    assert sorted(tables.nlf) == ["G4", "GP", "IP", "N6", "S6"]
    assert tables.brightness.shape == tables.irradiance.shape == (201, 1024)
    assert (np.diff(tables.brightness, axis=1) >= -1e-6).all()  # tone curves are monotone
    phone = sample_phone(5e-3, np.random.default_rng(3), tables)
    assert phone == sample_phone(5e-3, np.random.default_rng(3), tables)  # seeded
    # The tone curve and its inverse round-trip (to the curves' sampling accuracy).
    x = torch.linspace(0.05, 0.95, 50)
    assert torch.allclose(phone._to_display(phone._to_linear(x)), x, atol=0.02)
    # Read noise follows the chosen phone's noise-level function at that shot level (x lognormal jitter).
    reads = [sample_phone(5e-3, np.random.default_rng(s), tables).read for s in range(40)]
    assert 1e-7 < np.median(reads) < 1e-3


def test_noise_spec_needs_the_tables(tmp_path):
    from denoiser_train.data import NoiseSpec

    with pytest.raises(ValueError, match="camera tables"):
        NoiseSpec.parse("phone", camera_tables=tmp_path)
    spec = NoiseSpec.parse("phone:1e-3-1e-2", camera_tables=data_dir("camera"))
    model = spec.sample(np.random.default_rng(0))
    assert isinstance(model, Phone) and 1e-3 <= model.shot <= 1e-2


def test_sampled_phone_noise_is_about_as_correlated_as_sidd():
    """SIDD12's real phone noise (tools/noise_stats.py, median over its 12 pairs): neighbour correlation
    0.48, a third of the power above half Nyquist. `phone` (bilinear demosaicking, photo v2's noise)
    is far smoother; `phone-fine`'s demosaicking and noise-reduction ranges must keep the noise near SIDD's."""
    tables = CameraTables.load(data_dir("camera"))
    clean = torch.full((3, 128, 128), 0.45)
    stats = {}
    for fine in (True, False):
        stats[fine] = _correlation_and_high_share(
            [sample_phone(5e-3, np.random.default_rng(seed), tables, fine=fine)(clean, torch.Generator().manual_seed(seed)) - clean
             for seed in range(8)])
    correlation, high_share = stats[True]
    assert 0.3 < correlation < 0.65 and 0.2 < high_share < 0.5, stats
    assert stats[False][0] > correlation + 0.1 and stats[False][1] < high_share - 0.1, stats  # phone: smoother
    assert sample_phone(5e-3, np.random.default_rng(3), tables, fine=False).demosaic == 0  # v2's noise, unchanged


def _correlation_and_high_share(noises: list) -> tuple[float, float]:
    """Medians of the horizontal neighbour correlation and of the power share above half Nyquist."""
    correlations, high_shares = [], []
    for noise in noises:
        a, b = noise[..., :, :-1].flatten(), noise[..., :, 1:].flatten()
        correlations.append(float(torch.corrcoef(torch.stack([a, b]))[0, 1]))
        power = torch.fft.fft2(noise - noise.mean((-2, -1), keepdim=True)).abs().pow(2).sum(0)
        f = torch.fft.fftfreq(noise.shape[-1]).abs()
        high_shares.append(float(power[torch.maximum(f[:, None], f[None, :]) > 0.25].sum() / power.sum()))
    return float(np.median(correlations)), float(np.median(high_shares))
