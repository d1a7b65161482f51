"""The noise measured on noisy photos alone (`denoiser_train.noise_fit`) and `train --noise-from`."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from denoiser.io import read_image, write_image
from denoiser.jpeg_quality import stored_quality
from denoiser_train.noise_fit import BINS, FittedNoise, fit_folder, fit_noise, spectral_root

from conftest import data_dir
from test_self_supervised import ADAPT_WATCHING_OPENS, run_module


@pytest.fixture(scope="module")
def camera_folder(tmp_path_factory) -> Path:
    """noisy/ with three gently shaded photos carrying colour-correlated noise, gt/ with files that are not
    images (opening one would fail the run)."""
    root = tmp_path_factory.mktemp("camera")
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:128, :128] / 128
    for i in range(3):
        clean = np.stack([0.3 + 0.2 * xx, 0.5 + 0.1 * yy, 0.4 + 0.1 * xx * yy])
        noisy = np.clip(clean + 0.05 * colour_correlated_field(rng, 128), 0, 1)
        write_image(root / "noisy" / f"p{i}.png", np.rint(noisy.transpose(1, 2, 0) * 255).astype(np.uint8))
        (root / "gt").mkdir(exist_ok=True)
        (root / "gt" / f"p{i}.png").write_bytes(b"never read")
    return root


def colour_correlated_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """(3, size, size) noise with known structure: R and B share a component, every channel blurred over 2 px."""
    white = rng.standard_normal((3, size + 1, size + 1))
    white[2] = 0.6 * white[0] + 0.8 * white[2]
    return (white[:, :-1, :-1] + white[:, 1:, 1:]) / np.sqrt(2)


def test_fit_recovers_a_known_colour_and_spatial_correlation():
    """On flat images carrying noise of known covariance, the fit finds it (lag 0 and lag (1, 1))."""
    rng = np.random.default_rng(0)
    images = [0.5 + 0.04 * colour_correlated_field(rng, 160) for _ in range(3)]
    guides = [np.full_like(image, 0.5) for image in images]
    fitted = fit_noise(images, guides, radius=4, patch=32)
    centre = fitted.covariance[:, :, 4, 4]
    assert centre[0, 2] == pytest.approx(0.6, abs=0.05) and abs(centre[0, 1]) < 0.05
    assert fitted.covariance[0, 0, 5, 5] == pytest.approx(0.5, abs=0.05)  # the 2-px diagonal blur
    assert abs(fitted.covariance[0, 0, 4, 5]) < 0.05
    assert fitted.std * 255 == pytest.approx(np.full((3, BINS), 0.04 * 255), rel=0.06)


def test_sampled_noise_has_the_fitted_covariance_and_level():
    rng = np.random.default_rng(1)
    images = [0.5 + 0.04 * colour_correlated_field(rng, 160) for _ in range(3)]
    fitted = fit_noise(images, [np.full_like(i, 0.5) for i in images], radius=4, patch=32)
    field = fitted.field((3, 256, 256), torch.Generator().manual_seed(0)).numpy()
    assert np.cov(field.reshape(3, -1))[0, 2] == pytest.approx(fitted.covariance[0, 2, 4, 4], abs=0.05)
    clean = torch.full((3, 64, 64), 0.5)
    noise = fitted(clean, torch.Generator().manual_seed(1)) - clean
    assert float(noise.std()) * 255 == pytest.approx(0.04 * 255, rel=0.1)
    scaled = FittedNoise(fitted.std, fitted.covariance, gain=2.0, quantize=False)
    assert float((scaled(clean, torch.Generator().manual_seed(1)) - clean).std()) == pytest.approx(2 * float(noise.std()), rel=0.1)


def test_spectral_root_squares_to_the_density():
    rng = np.random.default_rng(2)
    images = [0.5 + 0.04 * colour_correlated_field(rng, 128) for _ in range(2)]
    fitted = fit_noise(images, [np.full_like(i, 0.5) for i in images], radius=3, patch=32)
    root = spectral_root(fitted.covariance, 16, 16)
    density = root @ root.conj().transpose(-1, -2)
    assert torch.allclose(density, density.conj().transpose(-1, -2), atol=1e-5)  # Hermitian, positive
    assert (torch.linalg.eigvalsh(density) > -1e-5).all()


def test_level_follows_brightness_and_is_shared_by_the_channels():
    std = np.stack([np.linspace(0.01, 0.1, BINS)] * 3)
    fitted = FittedNoise(std, np.ones((3, 3, 1, 1)))
    dark, bright = torch.full((3, 8, 8), 0.05), torch.full((3, 8, 8), 0.95)
    assert float(fitted.level(dark).mean()) == pytest.approx(0.01, abs=1e-6)
    assert float(fitted.level(bright).mean()) == pytest.approx(0.1, abs=1e-6)
    colourful = torch.stack([torch.full((8, 8), 0.1), torch.full((8, 8), 0.5), torch.full((8, 8), 0.9)])
    level = fitted.level(colourful)
    assert torch.allclose(level[0], level[2])  # read at the shared brightness, not each channel's own


def test_save_and_load_round_trip_exactly(tmp_path):
    """The covariance comes from a strided view: a save that wrote the raw buffer scrambled it."""
    rng = np.random.default_rng(3)
    images = [0.5 + 0.04 * colour_correlated_field(rng, 128) for _ in range(2)]
    fitted = fit_noise(images, [np.full_like(i, 0.5) for i in images], radius=3, patch=32)
    fitted.save(tmp_path / "noise.safetensors")
    loaded = FittedNoise.load(tmp_path / "noise.safetensors")
    assert np.allclose(loaded.covariance, fitted.covariance, atol=1e-6)
    assert np.allclose(loaded.std, fitted.std, atol=1e-7)
    assert loaded.jpeg_quality is None
    dataclasses.replace(fitted, jpeg_quality=80).save(tmp_path / "jpeg.safetensors")
    assert FittedNoise.load(tmp_path / "jpeg.safetensors").jpeg_quality == 80


def test_each_photo_is_stored_as_it_was_a_jpeg_at_its_own_quality(tmp_path):
    """A JPEG's quality is read from its quantisation table; the samples of its fitted noise get the same
    round trip (ringing at edges, which flat regions never show); a PNG's are rounded to 8 bits only."""
    from PIL import Image

    rng = np.random.default_rng(6)
    photo = np.clip(0.5 + 0.04 * colour_correlated_field(rng, 128), 0, 1).transpose(1, 2, 0)
    pixels = np.rint(photo * 255).astype(np.uint8)
    for quality in (40, 75, 93):
        Image.fromarray(pixels).save(tmp_path / f"q{quality}.jpg", quality=quality)
        assert stored_quality(tmp_path / f"q{quality}.jpg") == quality
    Image.fromarray(pixels).save(tmp_path / "lossless.png")
    assert stored_quality(tmp_path / "lossless.png") is None
    paths = [tmp_path / "q40.jpg", tmp_path / "lossless.png"]
    jpeg_model, png_model = fit_folder(paths, lambda image: np.full_like(image, image.mean()), radius=3, patch=32)
    assert (jpeg_model.jpeg_quality, png_model.jpeg_quality) == (40, None)

    edge = torch.full((3, 64, 64), 0.25)
    edge[:, :, 29:] = 0.75  # a sharp edge inside an 8x8 block, almost no noise: what is left is the storage
    quiet = dataclasses.replace(png_model, gain=1e-3)
    assert (quiet(edge) - edge).abs().max() < 1.01 / 255
    ringing = (dataclasses.replace(quiet, jpeg_quality=40)(edge) - edge).abs()
    assert ringing[:, :, 24:40].max() > 5 / 255 and ringing[:, :, :16].max() < 2 / 255


def test_too_few_flat_regions_is_a_clear_error():
    rng = np.random.default_rng(4)
    texture = rng.random((3, 64, 64))
    with pytest.raises(ValueError, match="flat .* regions found"):
        fit_noise([texture + 0.01 * rng.standard_normal(texture.shape)], [texture])


def test_fit_on_real_phone_noise_matches_its_statistics():
    """Fitted to one SIDD12 noisy image alone (the shipped model's output as the guide to flat regions), the
    model's noise on the clean image has the real noise's std, colour correlation and darkening (checked here
    against the reference, which the fit never reads)."""
    from denoiser import load_model
    from denoiser_train.noise_fit import denoised_guide

    folder = data_dir("real/SIDD12")
    name = "sidd_04.png"  # high ISO: 31 levels of noise, 7 levels darker than its reference
    noisy = read_image(folder / "noisy" / name).astype(np.float64).transpose(2, 0, 1) / 255
    fitted = fit_noise([noisy], [denoised_guide(load_model("photo"))(noisy)])
    clean = torch.from_numpy(read_image(folder / "gt" / name).astype(np.float32).transpose(2, 0, 1) / 255)
    real = noisy - clean.numpy()
    synthetic = (fitted(clean, torch.Generator().manual_seed(0)) - clean).numpy()
    assert synthetic.std() == pytest.approx(real.std(), rel=0.1)
    assert np.corrcoef(synthetic.reshape(3, -1))[0, 2] == pytest.approx(np.corrcoef(real.reshape(3, -1))[0, 2], abs=0.1)
    assert synthetic.mean() * 255 == pytest.approx(real.mean() * 255, abs=2.0)  # the tone curve's darkening


def test_config_needs_noise_from_and_fitted_together():
    from denoiser_train.config import TrainConfig

    with pytest.raises(ValueError, match="--noise-from"):
        TrainConfig(out="r", clean=("c",), noise="gaussian,fitted").validate()
    with pytest.raises(ValueError, match="--noise-from"):
        TrainConfig(out="r", clean=("c",), noise_from=("n",)).validate()


def test_train_noise_from_measures_once_and_resumes_from_the_saved_models(camera_folder, tmp_path):
    """`train --noise-from DIR --noise ...,fitted`: the noise of DIR's noisy photos (never its gt/) is measured
    and saved in RUN/fitted_noise/; a resumed run reads those instead of measuring again."""
    from skimage import data

    write_image(tmp_path / "clean" / "a.png", data.astronaut()[:128, :128])
    out = tmp_path / "run"
    args = ["-m", "train", "--clean", tmp_path / "clean", "--noise-from", camera_folder, "--noise", "gaussian:0-50,fitted@3",
            "--preset", "photo", "--init", "photo", "--level", "checked", "--patch", 32, "--batch", 4,
            "--val-fraction", 0, "--threads", 1, "--log-every", 1, "--out", out]
    first = run_module(*args, "--steps", 4)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "measured the noise of 3 photos" in first.stdout
    saved = sorted((out / "fitted_noise").glob("*.safetensors"))
    assert len(saved) == 3
    resumed = run_module("-m", "train", "--resume", out, "--steps", 6, "--threads", 1)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "measured the noise" not in resumed.stdout
    assert json.loads((out / "log.json").read_text())[-1]["step"] == 6


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory) -> Path:
    from skimage import data

    root = tmp_path_factory.mktemp("clean")
    write_image(root / "a.png", data.astronaut()[:160, :160])
    write_image(root / "b.png", data.chelsea()[:160, :160])
    return root


def test_adapt_never_opens_a_reference_stops_on_time_and_continues(camera_folder, clean_folder, tmp_path):
    """`denoiser adapt FOLDER -o DIR --clean C`: reads no gt/ file (every open is recorded by an audit hook),
    stops at its time budget with the model exported, loads with load_model(DIR), and a rerun continues."""
    from denoiser import load_model

    out = tmp_path / "adapted"
    script = tmp_path / "watch.py"
    script.write_text(ADAPT_WATCHING_OPENS)
    args = [script, "adapt", camera_folder, "-o", out, "--clean", clean_folder, "--minutes", 0.05, "--threads", 1,
            "--steps", 10**5]
    first = run_module(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "GT_OPENED []" in first.stdout and "measured the noise of 3 photos" in first.stdout
    log = json.loads((out / "log.json").read_text())
    assert 0.05 * 60 <= log[-1]["seconds"] < 0.05 * 60 + 20  # stopped at the budget (plus at most a step)
    model = load_model(out)
    assert model.config.estimator and (out / "model" / "README.md").is_file()
    second = run_module(*args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "GT_OPENED []" in second.stdout and f"resuming at step {log[-1]['step']}" in second.stdout
    assert json.loads((out / "log.json").read_text())[-1]["step"] > log[-1]["step"]


def test_adapt_stops_at_its_length_and_a_rerun_with_more_steps_continues(camera_folder, clean_folder, tmp_path):
    from denoiser_train.adapt import adapt

    out = tmp_path / "adapted"
    adapt(camera_folder, out, minutes=5, threads=1, steps=4, clean=(str(clean_folder),))
    assert json.loads((out / "log.json").read_text())[-1]["step"] == 4
    adapt(camera_folder, out, minutes=5, threads=1, steps=6)
    assert json.loads((out / "log.json").read_text())[-1]["step"] == 6
    with pytest.raises(ValueError, match="not .*give another -o DIR"):
        adapt(camera_folder, out, minutes=5, threads=1, steps=8, split="test")


def test_adapt_without_a_data_folder_uses_the_photos_own_denoised_versions(tmp_path, camera_folder, monkeypatch,
                                                                         capsys):
    """A user's machine has no training sets: adapt puts the noise on the noisy photos' own denoised versions
    (written once into the run, so a resume finds them) instead of failing."""
    from denoiser.cli import main

    monkeypatch.setenv("DENOISER_DATA", str(tmp_path / "no-data"))
    out = tmp_path / "o1"
    assert main(["adapt", str(camera_folder), "-o", str(out), "--steps", "2", "--threads", "1"]) == 0
    assert "your photos' own denoised versions" in capsys.readouterr().out
    own = sorted((out / "own_clean").iterdir())
    assert len(own) == 3 and json.loads((out / "train_config.json").read_text())["clean"] == [str(out / "own_clean")]
    assert (out / "model" / "model.safetensors").is_file()
    assert main(["adapt", str(camera_folder), "-o", str(tmp_path / "o2"), "--steps", "2", "--threads", "1",
                 "--clean", "own", str(camera_folder / "noisy")]) == 0  # own beside folders of clean photos
    assert json.loads((tmp_path / "o2" / "train_config.json").read_text())["clean"] == [
        str(camera_folder / "noisy"), str(tmp_path / "o2" / "own_clean")]


def test_adapt_refuses_bad_input(tmp_path, camera_folder, monkeypatch):
    from denoiser.cli import main

    assert main(["adapt", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert main(["adapt", str(camera_folder), "-o", str(tmp_path / "o"), "--minutes", "0"]) == 2
    small = tmp_path / "small"
    write_image(small / "a.png", np.zeros((20, 20, 3), np.uint8))
    assert main(["adapt", str(small), "-o", str(tmp_path / "o2"), "--clean", str(camera_folder / "noisy")]) == 2


def test_denoise_adapt_learns_the_photos_noise_then_denoises_it(camera_folder, clean_folder, tmp_path, capsys,
                                                                monkeypatch):
    """`denoise PHOTO -o OUT --adapt --minutes M`: the photo's own noise is measured and the model fine-tuned on it
    first (a scratch run, gone afterwards), so the output differs from the plain model's."""
    import tempfile

    from denoiser import read_image
    from denoiser.cli import main

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    photo = camera_folder / "noisy" / "p0.png"
    plain, adapted = tmp_path / "plain.png", tmp_path / "adapted.png"
    assert main(["denoise", str(photo), "-o", str(plain)]) == 0
    assert main(["denoise", str(photo), "-o", str(adapted), "--adapt", "--minutes", "0.05",
                 "--clean", str(clean_folder)]) == 0
    assert "measured the noise of 1 photos" in capsys.readouterr().out
    assert read_image(adapted).shape == read_image(plain).shape
    assert not np.array_equal(read_image(adapted), read_image(plain))
    assert list(scratch.iterdir()) == []  # the scratch run went with the photo


def test_denoise_adapt_refuses_what_it_cannot_do_before_adapting(camera_folder, tmp_path, capsys):
    from denoiser.cli import main

    existing = tmp_path / "out.png"
    existing.write_bytes(b"a good earlier result")
    photo = str(camera_folder / "noisy" / "p0.png")
    assert main(["denoise", photo, "-o", str(existing), "--adapt"]) == 2  # would be lost after minutes of adapting
    assert main(["denoise", str(camera_folder / "noisy"), "-o", str(tmp_path / "o"), "--adapt"]) == 2  # a folder
    assert main(["denoise", photo, "-o", str(tmp_path / "x.png"), "--minutes", "2"]) == 2  # --minutes without --adapt
    errors = capsys.readouterr().err
    assert "exists" in errors and "one photo file" in errors and "go with --adapt" in errors
    assert existing.read_bytes() == b"a good earlier result"


def test_one_photo_given_as_a_jpeg_is_adapted_to_as_a_jpeg_of_its_quality(tmp_path, monkeypatch):
    """`denoise PHOTO.jpg --adapt` and the app hand adapt a folder holding the photo stored at its own quality,
    so the fit's samples get its JPEG round trip; a PNG goes as a PNG."""
    from PIL import Image

    from denoiser.cli import main
    from denoiser_train import photo_adapt

    folders = []

    def adapt_records_its_folder(folder, out, **options):
        folders.append([(path.suffix, stored_quality(path)) for path in sorted(Path(folder).iterdir())])
        raise ValueError("recorded")  # stop here: the training itself is tested above

    monkeypatch.setattr(photo_adapt, "adapt", adapt_records_its_folder)
    pixels = np.full((64, 64, 3), 120, np.uint8)
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", quality=83)
    Image.fromarray(pixels).save(tmp_path / "scan.png")
    for name in ("phone.jpg", "scan.png"):
        assert main(["denoise", str(tmp_path / name), "-o", str(tmp_path / f"out-{name}"), "--adapt",
                     "--clean", str(tmp_path)]) == 2  # the recorder's error, reported as --adapt's
    assert folders == [[(".jpg", 83)], [(".png", None)]]
