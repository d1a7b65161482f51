"""Tests of the Gradio app (app.py): its functions in-process, the /denoise API over HTTP, the
page in a headless browser, and `python app.py` start-up. A tiny random-weight model stands in
for the shipped weights, so nothing here needs them or the network."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # app.py lives at the top level
    sys.path.insert(0, str(ROOT))

import app  # noqa: E402
from denoiser.baselines import METHODS  # noqa: E402
from denoiser.io import read_image, to_float, write_image  # noqa: E402
from denoiser.metrics import psnr, ssim  # noqa: E402
from denoiser.noise import estimate_sigma, make_noise  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
H, W = 48, 72  # small and not a multiple of the network's stride


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def app_model_dir(tmp_path_factory) -> Path:
    """A random-weight model folder in the layout denoiser.load_model reads."""
    from denoiser.hub import save_model
    from denoiser.model import build_model, preset

    torch.manual_seed(0)
    model = build_model(preset("default", widths=(8, 16), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1))
    return save_model(model, tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def blind_model_dir(tmp_path_factory) -> Path:
    """A random-weight blind model (noise_map=False), standing in for the `real` camera-noise model."""
    from denoiser.hub import save_model
    from denoiser.model import build_model, preset

    torch.manual_seed(1)
    model = build_model(preset("default", widths=(8, 16), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1, noise_map=False))
    return save_model(model, tmp_path_factory.mktemp("tiny-blind-model"))


@pytest.fixture(scope="module")
def two(app_model_dir, blind_model_dir):
    """The app with two models: `real` (blind) and `gaussian` (takes sigma)."""
    from denoiser.hub import load_folder

    blocks = app.build_demo({"gaussian": load_folder(app_model_dir), "real": load_folder(blind_model_dir)})
    yield blocks
    blocks.close()


def _component(blocks: gr.Blocks, elem_id: str):
    return next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == elem_id)


@pytest.fixture
def model_env(app_model_dir, monkeypatch) -> Path:
    monkeypatch.setenv("DENOISER_MODEL", str(app_model_dir))
    return app_model_dir


@pytest.fixture(scope="module")
def demo(app_model_dir):
    """The app built the way `python app.py` builds it: the model comes from $DENOISER_MODEL."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DENOISER_MODEL", str(app_model_dir))
        blocks = app.build_demo()
    yield blocks
    blocks.close()


@pytest.fixture(scope="module")
def den(demo) -> app.DenoiserApp:
    return demo.denoiser_app


def _clean(height=H, width=W) -> np.ndarray:
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[100 : 100 + height, 150 : 150 + width])


def _noisy(clean: np.ndarray, sigma: float = 25, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    peak = np.iinfo(clean.dtype).max
    noisy = clean.astype(np.float64) + rng.normal(0, sigma / 255 * peak, clean.shape)
    return np.clip(np.rint(noisy), 0, peak).astype(clean.dtype)


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    """(noisy PNG, clean reference PNG), 8-bit RGB."""
    clean = _clean()
    noisy_path, clean_path = tmp_path / "noisy.png", tmp_path / "clean.png"
    write_image(noisy_path, _noisy(clean))
    write_image(clean_path, clean)
    return noisy_path, clean_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- in-process


def test_build_demo_loads_the_model_named_by_env(model_env):
    blocks = app.build_demo()
    try:
        assert blocks.denoiser_app.model_label == str(model_env)
        assert "/denoise" in {f"/{fn.api_name}" for fn in blocks.fns.values() if fn.api_name}
    finally:
        blocks.close()


def test_page_names_the_model(den, app_model_dir, monkeypatch):
    assert str(app_model_dir) in den.model_label
    assert str(app_model_dir) in den.model_markdown()
    assert "revision" not in den.model_markdown()
    monkeypatch.setattr(den.model, "revision", "abc123", raising=False)
    assert "revision abc123" in den.model_markdown()
    assert not (ROOT / "app.pyi").exists()  # importing the app writes nothing into the tree


def test_denoise_without_reference(den, pair):
    noisy_path, _ = pair
    noisy = read_image(noisy_path)
    path, metrics = den.denoise_api(str(noisy_path), None, None)
    assert set(metrics) == {"psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised", "sigma", "seconds", "model", "strength"}
    assert metrics["model"] == "custom" and metrics["strength"] == 1.0  # the one model $DENOISER_MODEL named
    assert all(metrics[k] is None for k in ("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"))
    assert metrics["sigma"] == pytest.approx(estimate_sigma(to_float(noisy)), rel=1e-9)
    assert metrics["seconds"] > 0
    out = read_image(path)
    assert path.endswith(".png") and out.shape == noisy.shape and out.dtype == np.uint8

    # Each response gets its own file, even for identical requests.
    path2, _ = den.denoise_api(str(noisy_path), None, None)
    assert path2 != path and Path(path).is_file() and Path(path2).is_file()

    (before, after), residual, download, table, status = den.denoise_photo(str(noisy_path), None, 25, True)
    assert read_image(before).shape == read_image(after).shape == noisy.shape  # full resolution
    np.testing.assert_array_equal(read_image(after), read_image(download))
    assert read_image(residual).shape == noisy.shape
    assert table.empty and "estimated" in status


def assert_library_metrics(metrics: dict, clean, noisy, out) -> None:
    """The app's metrics equal denoiser.metrics on the same arrays."""
    assert metrics["psnr_noisy"] == pytest.approx(psnr(clean, noisy), abs=1e-9)
    assert metrics["ssim_noisy"] == pytest.approx(ssim(clean, noisy), abs=1e-9)
    assert metrics["psnr_denoised"] == pytest.approx(psnr(clean, out), abs=1e-9)
    assert metrics["ssim_denoised"] == pytest.approx(ssim(clean, out), abs=1e-9)


def test_denoise_with_reference_metrics(den, pair):
    noisy_path, clean_path = pair
    noisy, clean = read_image(noisy_path), read_image(clean_path)
    path, metrics = den.denoise_api(str(noisy_path), str(clean_path), 20.0)
    out = read_image(path)
    assert metrics["sigma"] == 20.0
    assert_library_metrics(metrics, clean, noisy, out)

    *_, table, status = den.denoise_photo(str(noisy_path), str(clean_path), 20.0, False)
    assert list(table.iloc[:, 0]) == ["noisy vs reference", "denoised vs reference", "gain"]
    assert table.iloc[1, 1] == pytest.approx(round(psnr(clean, out), 2))
    assert table.iloc[2, 1] == pytest.approx(round(psnr(clean, out) - psnr(clean, noisy), 2), abs=0.011)
    assert "σ = 20.0 (set by you)" in status


def test_progress_gets_tiles_done_and_total(den, pair):
    calls = []

    def progress(value, desc=None, total=None, unit="steps"):
        calls.append(value)

    den.denoise_api(str(pair[0]), None, 25, progress=progress)
    den.denoise_photo(str(pair[0]), None, 25, True, None, progress=progress)
    assert calls == [(1, 1), (1, 1)]  # one tile for a small image


def test_reference_of_another_size_is_a_clear_error(den, pair, tmp_path):
    noisy_path, _ = pair
    other = tmp_path / "other.png"
    write_image(other, _clean(H, W - 10))
    with pytest.raises(gr.Error) as info:
        app.user_errors(den.denoise_api)(str(noisy_path), str(other), None)
    assert f"{W - 10}x{H}" in info.value.message and f"{W}x{H}" in info.value.message
    gray = tmp_path / "gray.png"
    write_image(gray, _clean()[..., 0])
    with pytest.raises(gr.Error, match="colour"):
        den.denoise_api(str(noisy_path), str(gray), None)


def test_rgba_and_16_bit_keep_mode_and_depth(den, tmp_path):
    clean = _clean()
    rgba = np.dstack([_noisy(clean), np.linspace(0, 255, H * W).reshape(H, W).astype(np.uint8)])
    write_image(tmp_path / "rgba.png", rgba)
    path, _ = den.denoise_api(str(tmp_path / "rgba.png"), None, 25)
    with Image.open(path) as im:
        assert im.mode == "RGBA" and im.size == (W, H)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (H, W, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])  # alpha untouched

    clean16 = clean.astype(np.uint16) * 257
    write_image(tmp_path / "rgb16.png", _noisy(clean16))
    write_image(tmp_path / "clean16.png", clean16)
    path, metrics = den.denoise_api(str(tmp_path / "rgb16.png"), str(tmp_path / "clean16.png"), None)
    out = read_image(path)
    assert out.dtype == np.uint16 and out.shape == (H, W, 3)
    assert len(np.unique(out % 257)) > 1  # real 16-bit data, not 8-bit scaled up
    assert metrics["psnr_denoised"] == pytest.approx(psnr(clean16, out), abs=1e-9)

    gray16 = _noisy(clean16[..., 1])
    write_image(tmp_path / "gray16.png", gray16)
    path, _ = den.denoise_api(str(tmp_path / "gray16.png"), None, None)
    out = read_image(path)
    assert out.dtype == np.uint16 and out.shape == (H, W)
    (before, after), *_ = den.denoise_photo(str(tmp_path / "gray16.png"), None, 25, True)
    assert read_image(after).shape == (H, W)  # the 8-bit preview is full size too


def test_sigma_prefill_is_the_estimate(den, pair, tmp_path):
    noisy_path, _ = pair
    expected = estimate_sigma(to_float(read_image(noisy_path)))
    value, note, remembered = den.estimate(str(noisy_path))
    assert value == round(expected, 1)  # the slider's resolution
    assert remembered["sigma"] == pytest.approx(expected, rel=1e-9)
    assert f"{expected:.1f}" in note
    # auto uses the exact estimate; an override is used as given
    _, metrics = den.denoise_api(str(noisy_path), None, None)
    assert metrics["sigma"] == pytest.approx(expected, rel=1e-9)
    *_, status = den.denoise_photo(str(noisy_path), None, value, True, remembered)
    assert f"σ = {expected:.1f} (estimated)" in status
    *_, status = den.denoise_photo(str(noisy_path), None, value, True, None)
    assert f"σ = {expected:.1f} (estimated)" in status
    *_, status = den.denoise_photo(str(noisy_path), None, 7.5, False, remembered)
    assert "σ = 7.5 (set by you)" in status
    # Very noisy: the slider stops at its maximum, the note says so.
    write_image(tmp_path / "loud.png", _noisy(_clean(), sigma=120))
    value, note, remembered = den.estimate(str(tmp_path / "loud.png"))
    assert value == app.SIGMA_SLIDER_MAX and remembered["sigma"] > app.SIGMA_SLIDER_MAX and "auto" in note
    with pytest.raises(gr.Error, match="255"):
        app.user_errors(den.denoise_api)(str(noisy_path), None, 300)


def test_synthetic_noise_is_seeded(den, tmp_path):
    args = ("camera", None, "gaussian", 30, 30, 0.05, 0.01, 0.0005, 0.2)
    clean_a, noisy_a, _, table, status = den.synthetic(*args, 7)
    _, noisy_b, _, _, _ = den.synthetic(*args, 7)
    _, noisy_c, _, _, _ = den.synthetic(*args, 8)
    np.testing.assert_array_equal(read_image(noisy_a), read_image(noisy_b))
    assert not np.array_equal(read_image(noisy_a), read_image(noisy_c))
    assert read_image(noisy_a).shape == read_image(clean_a).shape == app.example_clean("camera").shape
    assert list(table.iloc[:, 0])[:2] == ["noisy vs clean", "denoised vs clean"] and "seed 7" in status

    # make_noisy is make_noise(kind, **params)(tensor, Generator().manual_seed(seed))
    clean = _clean()
    tensor = torch.from_numpy(to_float(clean).transpose(2, 0, 1).copy())
    expected = make_noise("poisson", peak=20)(tensor, torch.Generator().manual_seed(3)).numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(app.make_noisy(clean, "poisson", {"peak": 20}, 3), expected)

    # an uploaded clean image, every noise kind
    write_image(tmp_path / "clean.png", clean)
    for kind in app.NOISE_PARAMS:
        c, n, d, table, _ = den.synthetic("astronaut", str(tmp_path / "clean.png"), kind, 25, 30, 0.05, 0.01, 0.0005, 0.2, 0)
        assert read_image(d).shape == clean.shape
        assert table.iloc[0, 1] == pytest.approx(round(psnr(clean, read_image(n)), 2), abs=0.011)


def test_compare_runs_every_method(den, pair, monkeypatch):
    noisy_path, clean_path = pair
    gallery, table, note = den.compare(str(noisy_path), str(clean_path), None)
    assert list(table["method"]) == ["noisy input", "autoencoder", *METHODS]
    assert len(gallery) == 2 + len(METHODS)
    assert table["PSNR (dB)"].notna().all() and (table["seconds"][1:] >= 0).all()
    clean = read_image(clean_path)
    noisy = read_image(noisy_path)
    assert table["PSNR (dB)"][0] == pytest.approx(round(psnr(clean, noisy), 2))
    for path, caption in gallery:
        assert read_image(path).shape == noisy.shape

    gallery, table, note = den.compare(str(noisy_path), None, 25)
    assert "PSNR (dB)" not in table and list(table["method"]) == ["autoencoder", *METHODS]
    assert "reference" in note

    # auto wins over the slider; a failing baseline is reported, the others still run
    _, table, note = den.compare(str(noisy_path), None, 25, True)
    assert "estimated" in note
    _, table, note = den.compare(str(noisy_path), None, 0, False)
    assert "autoencoder" in list(table["method"]) and len(table) >= 2

    monkeypatch.setattr(app, "COMPARE_MAX_PIXELS", 1000)
    gallery, table, note = den.compare(str(noisy_path), str(clean_path), 25)
    assert "crop" in note
    assert read_image(gallery[1][0]).shape[0] * read_image(gallery[1][0]).shape[1] <= 1000


def test_bad_files_become_gr_errors(den, tmp_path, monkeypatch, pair):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    for fn in (den.estimate, lambda p: den.denoise_api(p, None, None), lambda p: den.compare(p, None, None)):
        with pytest.raises(gr.Error) as info:
            app.user_errors(fn)(str(fake))
        assert "notes.png" in info.value.message and "not an image" in info.value.message
        assert str(tmp_path) not in info.value.message  # no server paths in messages
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(gr.Error, match="empty"):
        den.denoise_api(str(tmp_path / "empty.png"), None, None)
    with pytest.raises(gr.Error, match="upload"):
        den.denoise_api(None, None, None)
    monkeypatch.setattr(app, "MAX_PIXELS", 1000)
    with pytest.raises(gr.Error, match="exceeds the limit"):
        den.denoise_api(str(pair[0]), None, None)


# ----------------------------------------------------------------------------- several models


def test_model_choice_defaults_per_tab(two, app_model_dir):
    den = two.denoiser_app
    assert list(den.models) == ["gaussian", "real"] and den.photo_default == "real" and den.synthetic_default == "gaussian"
    assert den.choices() == [("Real photo (camera noise)", "real"), ("Synthetic Gaussian noise", "gaussian")]
    photo, synthetic = _component(two, "model-choice"), _component(two, "synthetic-model-choice")
    assert photo.visible and photo.value == "real"
    assert synthetic.visible and synthetic.value == "gaussian"
    assert "camera noise" in _component(two, "model-help").value and "Gaussian" in _component(two, "model-help").value
    # the photo tab starts on the blind model: strength instead of sigma / auto
    assert _component(two, "strength-slider").visible and _component(two, "strength-slider").value == 1.0
    assert not _component(two, "sigma-slider").visible and not _component(two, "sigma-auto").visible
    assert not _component(two, "synthetic-strength").visible  # the synthetic tab starts on gaussian
    auto, sigma, strength = den.controls("gaussian")
    assert auto["visible"] and sigma["visible"] and not strength["visible"]
    auto, sigma, strength = den.controls("real")
    assert not auto["visible"] and not sigma["visible"] and strength["visible"]
    assert den.model is den.models["real"] and str(app_model_dir) in den.model_markdown()
    with pytest.raises(gr.Error, match="Unknown model"):
        den.resolve("nope")
    assert den.resolve("Synthetic Gaussian noise") == "gaussian"  # labels work too

    # One model (build_demo(model=...)): no choice shown, the model serves every tab.
    from denoiser.hub import load_folder

    one = app.build_demo(model=load_folder(app_model_dir))
    try:
        assert not _component(one, "model-choice").visible and not _component(one, "strength-slider").visible
        assert _component(one, "sigma-slider").visible
        assert one.denoiser_app.photo_default == one.denoiser_app.synthetic_default == "custom"
    finally:
        one.close()


def test_each_model_runs_when_chosen(two, pair):
    from denoiser.inference import denoise

    den = two.denoiser_app
    noisy_path, clean_path = pair
    noisy = read_image(noisy_path)
    real, gaussian = denoise(noisy, den.models["real"]), denoise(noisy, den.models["gaussian"], sigma=25)
    assert not np.array_equal(real, gaussian)

    path, metrics = den.denoise_api(str(noisy_path), None, 25)  # /denoise: the photo default, sigma ignored
    np.testing.assert_array_equal(read_image(path), real)
    assert metrics["model"] == "real" and metrics["sigma"] == pytest.approx(estimate_sigma(to_float(noisy)))
    path, metrics = den.denoise_with_model(str(noisy_path), None, 25, "gaussian")
    np.testing.assert_array_equal(read_image(path), gaussian)
    assert metrics["model"] == "gaussian" and metrics["sigma"] == 25

    (_, after), _, download, _, status = den.denoise_photo(str(noisy_path), None, 25, False, None, "gaussian", 0.3)
    np.testing.assert_array_equal(read_image(download), gaussian)  # strength is the blind model's control only
    assert "σ = 25.0 (set by you)" in status and "Synthetic Gaussian noise" in status
    (_, after), _, download, _, status = den.denoise_photo(str(noisy_path), None, 25, False, None, "real", 1.0)
    np.testing.assert_array_equal(read_image(download), real)
    assert "Real photo" in status and "strength 1.00" in status

    # The synthetic tab: gaussian by default, with the true sigma; real when chosen.
    args = ("camera", None, "gaussian", 30, 30, 0.05, 0.01, 0.0005, 0.2, 3)
    noisy_syn = app.make_noisy(app.example_clean("camera"), "gaussian", {"sigma": 30.0}, 3)
    _, _, denoised, _, status = den.synthetic(*args)
    np.testing.assert_array_equal(read_image(denoised), app.to_display(denoise(noisy_syn, den.models["gaussian"], sigma=30)))
    assert "Synthetic Gaussian noise" in status and "σ = 30.0 (the true value)" in status
    _, _, denoised, _, status = den.synthetic(*args, "real", 0.5)
    np.testing.assert_array_equal(read_image(denoised), app.to_display(denoise(noisy_syn, den.models["real"], strength=0.5)))
    assert "strength 0.50" in status

    # Compare runs both autoencoders; the blind one ignores the shared sigma.
    _, table, note = den.compare(str(noisy_path), str(clean_path), 25)
    assert list(table["method"])[:3] == ["noisy input", "autoencoder (real)", "autoencoder (gaussian)"]
    assert "except the blind real model" in note


def test_strength_zero_returns_the_input_for_the_blind_model(two, pair, tmp_path):
    den = two.denoiser_app
    noisy_path, _ = pair
    noisy = read_image(noisy_path)
    path, metrics = den.denoise_with_model(str(noisy_path), None, None, "real", 0.0)
    np.testing.assert_array_equal(read_image(path), noisy)
    assert metrics["strength"] == 0.0
    (before, after), _, download, _, _ = den.denoise_photo(str(noisy_path), None, None, True, None, "real", 0.0)
    np.testing.assert_array_equal(read_image(download), noisy)
    np.testing.assert_array_equal(read_image(after), read_image(before))
    half, _ = den.denoise_with_model(str(noisy_path), None, None, "real", 0.5)
    full, _ = den.denoise_with_model(str(noisy_path), None, None, "real", 1.0)
    gap = lambda a, b: np.abs(read_image(a).astype(int) - read_image(b).astype(int)).mean()  # noqa: E731
    assert 0 < gap(half, noisy_path) < gap(full, noisy_path)
    with pytest.raises(gr.Error, match="between 0 and 1"):
        den.denoise_with_model(str(noisy_path), None, None, "real", 1.5)


def test_without_env_every_shipped_model_that_loads(monkeypatch, tmp_path, app_model_dir, blind_model_dir):
    import shutil

    import denoiser.hub as hub

    monkeypatch.delenv("DENOISER_MODEL", raising=False)
    monkeypatch.setattr(hub, "SHIPPED_DIR", tmp_path)
    with pytest.raises(hub.ModelLoadError, match="no shipped weights for 'gaussian'"):
        app.build_demo()  # none loads: the default model's clear error
    shutil.copytree(app_model_dir, tmp_path / "gaussian")
    assert list(app.load_models()) == ["gaussian"]  # `real` missing: the one that loads
    shutil.copytree(blind_model_dir, tmp_path / "real")
    blocks = app.build_demo()
    try:
        den = blocks.denoiser_app
        assert list(den.models) == ["real", "gaussian"] and den.photo_default == "real"
        assert not app.is_blind(den.models["gaussian"]) and app.is_blind(den.models["real"])
        assert _component(blocks, "model-choice").visible
    finally:
        blocks.close()


def test_png_tag_makes_bytes_unique_and_keeps_pixels(tmp_path):
    import cv2

    images = {
        "rgb8.png": _clean(),
        "gray16.png": _clean()[..., 0].astype(np.uint16) * 257,
        "rgb16.png": _clean().astype(np.uint16) * 257,  # written by OpenCV
        "rgba8.png": np.dstack([_clean(), np.full((H, W), 7, np.uint8)]),
    }
    for name, array in images.items():
        a, b = tmp_path / "a" / name, tmp_path / "b" / name
        for path in (a, b):
            write_image(path, array)
        assert a.read_bytes() == b.read_bytes()
        app.unique_png(a), app.unique_png(b)
        assert a.read_bytes() != b.read_bytes()
        for path in (a, b):
            np.testing.assert_array_equal(read_image(path), array)
            with Image.open(path) as im:
                im.load()  # Pillow checks every chunk's CRC
                assert im.text[app.PNG_TAG_KEYWORD] == f"{path.parent.name}/{name}"
        assert cv2.imread(str(a), cv2.IMREAD_UNCHANGED) is not None
    # A PNG whose IEND is not the last thing in the file is rewritten (trailing bytes dropped).
    odd = tmp_path / "odd.png"
    write_image(odd, _clean())
    odd.write_bytes(odd.read_bytes() + b"junk")
    app.tag_png(odd, "x")
    np.testing.assert_array_equal(read_image(odd), _clean())
    assert odd.read_bytes().endswith(b"IEND" + zlib.crc32(b"IEND").to_bytes(4, "big"))
    with pytest.raises(ValueError, match="not a PNG"):
        (tmp_path / "no.png").write_bytes(b"GIF89a....")
        app.tag_png(tmp_path / "no.png", "x")


def test_output_folders_are_pruned_by_age(tmp_path):
    outputs = app.OutputDirs(ttl=60)
    old, new = outputs.fresh(), outputs.fresh()
    (old / "a.png").write_bytes(b"x")
    os.utime(old, (time.time() - 120, time.time() - 120))
    outputs.prune()
    assert not old.exists() and new.is_dir()
    root = outputs.root
    del outputs, old, new
    import gc

    gc.collect()
    assert not root.exists()  # the root goes with the object


# ----------------------------------------------------------------------------- over HTTP


def _serve(blocks):
    """Launch a demo on a free loopback port as the app's __main__ does; yields its URL, then closes it."""
    blocks.queue(max_size=app.QUEUE_SIZE, default_concurrency_limit=app.CONCURRENCY)
    _, url, _ = blocks.launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, show_error=True, quiet=True
    )
    yield url
    blocks.close()


@pytest.fixture(scope="module")
def server(demo):
    yield from _serve(demo)


def test_http_denoise_endpoint(server, pair, tmp_path):
    from gradio_client import Client, handle_file

    noisy_path, clean_path = pair
    noisy, clean = read_image(noisy_path), read_image(clean_path)
    client = Client(server, verbose=False, download_files=str(tmp_path / "downloads"))
    assert "/denoise" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]

    path, metrics = client.predict(handle_file(str(noisy_path)), None, None, api_name="/denoise")
    out = read_image(path)
    assert out.shape == noisy.shape and Path(path).suffix == ".png"
    assert metrics["psnr_denoised"] is None and metrics["sigma"] == pytest.approx(estimate_sigma(to_float(noisy)))

    path, metrics = client.predict(handle_file(str(noisy_path)), handle_file(str(clean_path)), 25, api_name="/denoise")
    out = read_image(path)
    assert metrics["sigma"] == 25
    assert_library_metrics(metrics, clean, noisy, out)

    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(Exception, match="fake.png: not an image"):
        client.predict(handle_file(str(fake)), api_name="/denoise")  # reference and sigma are optional

    other = tmp_path / "small.png"
    write_image(other, _clean(H - 8, W))
    with pytest.raises(Exception, match=f"{W}x{H - 8}"):
        client.predict(handle_file(str(noisy_path)), handle_file(str(other)), None, api_name="/denoise")


@pytest.fixture(scope="module")
def two_server(two):
    yield from _serve(two)


def test_http_model_choice(two_server, pair, tmp_path):
    from gradio_client import Client, handle_file

    noisy_path, _ = pair
    noisy = read_image(noisy_path)
    client = Client(two_server, verbose=False, download_files=str(tmp_path / "downloads"))
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert len(endpoints["/denoise"]["parameters"]) == 3  # unchanged for existing callers
    assert [p["parameter_has_default"] for p in endpoints["/denoise_with_model"]["parameters"]] == [False, True, True, True, True]
    _, metrics = client.predict(handle_file(str(noisy_path)), None, None, api_name="/denoise")
    assert metrics["model"] == "real"
    _, metrics = client.predict(handle_file(str(noisy_path)), None, 25, "gaussian", api_name="/denoise_with_model")
    assert metrics["model"] == "gaussian" and metrics["sigma"] == 25
    path, metrics = client.predict(handle_file(str(noisy_path)), model="real", strength=0, api_name="/denoise_with_model")
    np.testing.assert_array_equal(read_image(path), noisy)
    with pytest.raises(Exception, match="nope"):
        client.predict(handle_file(str(noisy_path)), None, None, "nope", api_name="/denoise_with_model")


def test_same_image_at_once_never_shares_a_cache_file(two_server, tmp_path):
    """Several visitors send the same image at the same moment (the issue: byte-identical outputs
    raced on gradio's content-addressed cache). Every response must arrive, in its own bytes."""
    from gradio_client import Client, handle_file

    users = 8
    image = tmp_path / "same.png"
    write_image(image, _noisy(_clean(96, 128)))
    downloads = tmp_path / "downloads"  # shared on purpose: gradio_client files downloads by content hash too
    clients = [None] * users

    def connect(i):
        clients[i] = Client(two_server, verbose=False, download_files=str(downloads))

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(users)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    barrier, results, errors = threading.Barrier(users), [None] * users, []

    def visit(i):
        barrier.wait(timeout=60)
        try:
            results[i] = client_result = clients[i].predict(handle_file(str(image)), None, None, api_name="/denoise")
            results[i] = (Path(client_result[0]).read_bytes(), read_image(client_result[0]))
        except Exception as err:  # noqa: BLE001 - counted below
            errors.append(repr(err))

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(users)]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    assert errors == [] and all(r is not None for r in results), errors
    assert len({data for data, _ in results}) == users  # no two responses share bytes (or a cache file)
    for _, pixels in results[1:]:
        np.testing.assert_array_equal(pixels, results[0][1])  # ...but they are the same image


# ----------------------------------------------------------------------------- in a browser


def test_browser_denoise_with_reference(server, pair):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    noisy_path, clean_path = pair
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(server, wait_until="domcontentloaded")
            page.locator("#noisy-input input[type=file]").set_input_files(str(noisy_path))
            note = page.locator("#sigma-note")
            sync_api.expect(note).to_contain_text("Estimated noise level", timeout=30_000)
            page.locator("#reference-input input[type=file]").set_input_files(str(clean_path))
            sync_api.expect(page.locator("#reference-input img").first).to_be_visible(timeout=30_000)
            page.locator("#denoise-button").click()
            table = page.locator("#metrics-table")
            sync_api.expect(table).to_contain_text("denoised vs reference", timeout=60_000)
            sync_api.expect(page.locator("#result-slider img").first).to_be_visible(timeout=30_000)
            sync_api.expect(page.locator("#download")).to_contain_text("noisy-denoised", timeout=30_000)
            text = table.inner_text()
            assert "PSNR" in text and "SSIM" in text
            assert re.search(r"\b\d{1,2}\.\d{1,2}\b", text), text  # PSNR numbers in dB
            assert page.locator("#result-slider img").count() >= 1
            assert str(Path(app.__file__).parent) not in page.content()  # no server paths leak
            page.screenshot(path=str(artifacts / "app.png"), full_page=True)
        finally:
            browser.close()
    assert (artifacts / "app.png").stat().st_size > 10_000


# ----------------------------------------------------------------------------- python app.py


def _run_env(model: str) -> dict:
    env = dict(os.environ, DENOISER_MODEL=model, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_cli_without_weights_exits_with_one_line(tmp_path):
    missing = tmp_path / "no" / "such" / "model"
    proc = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=_run_env(str(missing)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in proc.stderr, proc.stderr
    assert str(missing) in lines[0]


def test_cli_starts_with_a_model(app_model_dir, tmp_path):
    import urllib.request

    port = _free_port()
    env = _run_env(str(app_model_dir)) | {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.monotonic() + 90, b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.5)
        assert b"Photo denoiser" in body, log_path.read_text()
        assert str(app_model_dir).encode() in body  # the page names the model
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
