"""Tests of the web app (denoiser_app): the service in-process, the API over HTTP, and `python app.py`.
Tiny random-weight models of each kind stand in for the shipped weights, so nothing here needs
them or the network; behaviour is checked against the library's own functions, not PSNR."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from app_support import ROOT, H, W, clean_image, free_port, noisy_image, save_tiny, serve, tiny_model

from denoiser.baselines import METHODS
from denoiser.inference import denoise, estimate_noise, noise_word
from denoiser.io import read_image, to_float, write_image
from denoiser.metrics import psnr, ssim
from denoiser.noise import estimate_sigma
from denoiser_app import Settings, build_demo, compare, synthetic
from denoiser_app.errors import user_errors
from denoiser_app.synthetic import example_clean

METRIC_KEYS = {"psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised", "sigma", "seconds", "model", "strength",
               "sigma_source", "note"}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def gaussian_dir(tmp_path_factory) -> Path:
    return save_tiny("gaussian", tmp_path_factory.mktemp("tiny-gaussian"))


@pytest.fixture(scope="module")
def demo(gaussian_dir):
    """The app built the way `python app.py` builds it: the model comes from $DENOISER_MODEL."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DENOISER_MODEL", str(gaussian_dir))
        blocks = build_demo()
    yield blocks
    blocks.close()


@pytest.fixture(scope="module")
def svc(demo):
    return demo.service


@pytest.fixture(scope="module")
def three():
    """The app with a photo model (learned estimator), a gaussian model (σ) and a user's blind model."""
    blocks = build_demo({"gaussian": tiny_model("gaussian"), "photo": tiny_model("photo", 1), "mine": tiny_model("blind", 2)},
                        settings=Settings())
    yield blocks
    blocks.close()


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    """(noisy PNG named Dog.png, clean reference PNG), 8-bit RGB."""
    clean = clean_image()
    noisy_path, clean_path = tmp_path / "Dog.png", tmp_path / "clean.png"
    write_image(noisy_path, noisy_image(clean))
    write_image(clean_path, clean)
    return noisy_path, clean_path


def _component(blocks: gr.Blocks, elem_id: str):
    return next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def _quiet_error(call, *args, **kwargs) -> gr.Error:
    """The gr.Error a call raises through the app's error wrapper; it must print no traceback."""
    with pytest.raises(gr.Error) as info:
        user_errors(call)(*args, **kwargs)
    assert info.value.print_exception is False
    return info.value


# ----------------------------------------------------------------------------- in-process


def test_build_demo_loads_the_model_named_by_env(demo, gaussian_dir, monkeypatch):
    svc = demo.service
    assert list(svc.models.models) == ["custom"] and svc.models.source("custom") == str(gaussian_dir)
    assert {"denoise", "denoise_with_model"} <= {fn.api_name for fn in demo.fns.values() if fn.api_name}
    details = _component(demo, "model-details").value
    assert str(gaussian_dir) in details and "revision" not in details
    monkeypatch.setattr(svc.models.models["custom"], "revision", "abc123", raising=False)
    assert "revision abc123" in svc.models.details_markdown(svc.settings.max_pixels)
    assert not [*ROOT.glob("*.pyi"), *ROOT.glob("denoiser_app/*.pyi")]  # building the app writes no stub files


def test_header_speaks_plainly(three):
    header = _component(three, "header").value
    for jargon in ("unet", "parameters", "blind", "cpu", "**cpu**"):
        assert jargon not in header.lower().split(), jargon
    assert "photo" in header.lower()


def test_denoise_without_reference(svc, pair):
    noisy_path, _ = pair
    noisy = read_image(noisy_path)
    path, metrics = svc.api(str(noisy_path))
    assert set(metrics) == METRIC_KEYS
    assert metrics["model"] == "custom" and metrics["strength"] == 1.0 and metrics["sigma_source"] == "estimated"
    assert all(metrics[k] is None for k in ("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"))
    assert metrics["sigma"] == pytest.approx(estimate_sigma(to_float(noisy)), rel=1e-9) and metrics["note"] is None
    np.testing.assert_array_equal(read_image(path), denoise(noisy, svc.models.models["custom"]))
    assert Path(path).name == "Dog-custom-s1.00.png"

    path2, _ = svc.api(str(noisy_path))  # each response its own file, even for identical requests
    assert path2 != path and Path(path).is_file() and Path(path2).is_file()

    result = svc.denoise(str(noisy_path))
    views = svc.views(result)
    assert read_image(views.before).shape == read_image(views.after).shape == noisy.shape  # small: shown whole
    assert psnr(read_image(result.path), read_image(views.after)) > 30  # a JPEG view of the PNG download
    assert read_image(views.residual).shape == noisy.shape and views.gain >= 1
    assert result.table() is None  # no reference: no table to show
    assert "estimated from the photo" in result.status() and "PSNR" not in result.status()


def test_denoise_with_reference_metrics(svc, pair):
    noisy_path, clean_path = pair
    noisy, clean = read_image(noisy_path), read_image(clean_path)
    path, metrics = svc.api(str(noisy_path), str(clean_path), 20.0)
    out = read_image(path)
    assert metrics["sigma"] == 20.0 and metrics["sigma_source"] == "given"
    assert metrics["psnr_noisy"] == pytest.approx(psnr(clean, noisy), abs=1e-9)
    assert metrics["ssim_noisy"] == pytest.approx(ssim(clean, noisy), abs=1e-9)
    assert metrics["psnr_denoised"] == pytest.approx(psnr(clean, out), abs=1e-9)
    assert metrics["ssim_denoised"] == pytest.approx(ssim(clean, out), abs=1e-9)

    result = svc.denoise(str(noisy_path), str(clean_path), 20.0)
    rows = result.table()
    assert [r[0] for r in rows] == ["your photo", "denoised", "gain"]
    assert rows[1][1] == pytest.approx(round(psnr(clean, out), 2))
    status = result.status()
    assert "σ = 20.0 (set by you)" in status and f"PSNR {rows[2][1]:+.2f} dB" in status
    assert f"SSIM {result.metrics['ssim_noisy']:.2f} → {result.metrics['ssim_denoised']:.2f} (1: identical)" in status


def test_photo_model_runs_on_its_learned_estimate(three, pair):
    svc = three.service
    model = svc.models.models["photo"]
    noisy_path, _ = pair
    noisy = read_image(noisy_path)
    assert svc.models.photo_default == "photo" and svc.models.synthetic_default == "gaussian"

    path, metrics = svc.api(str(noisy_path))  # /denoise: the photo model, its own per-pixel estimate
    np.testing.assert_array_equal(read_image(path), denoise(noisy, model))
    found = estimate_noise(noisy, model)
    assert metrics["model"] == "photo" and metrics["sigma_source"] == "learned"
    assert metrics["sigma"] == pytest.approx(found.sigma)
    status = svc.denoise(str(noisy_path)).status()
    word = noise_word(found.sigma)
    assert f"Your photo had **{word}** noise" in status  # the word first ...
    assert status.index(word) < status.index("<details>") < status.index(found.describe())  # ... the figures folded

    path, metrics = svc.api(str(noisy_path), None, None, "photo", 0.5)  # strength scales the estimate
    np.testing.assert_array_equal(read_image(path), denoise(noisy, model, strength=0.5))
    assert Path(path).name == "Dog-photo-s0.50.png" and metrics["strength"] == 0.5
    path, metrics = svc.api(str(noisy_path), None, 12, "photo", 2.0)  # a given σ replaces it
    np.testing.assert_array_equal(read_image(path), denoise(noisy, model, sigma=12, strength=2.0))
    assert Path(path).name == "Dog-photo-sigma12.0-s2.00.png" and metrics["sigma_source"] == "given"

    upload = svc.inspect(str(noisy_path), "photo")
    assert upload.note.startswith(f"{W}x{H} RGB 8-bit photo. **Noise: {word}**: ")
    assert upload.note.index("<details>") < upload.note.index(found.describe())
    assert upload.sigma == pytest.approx(found.sigma) and not upload.converted


def test_download_names_say_which_model_and_strength(three, pair):
    svc = three.service
    names = {Path(svc.api(str(pair[0]), None, None, m)[0]).name for m in ("photo", "gaussian", "mine")}
    assert names == {"Dog-photo-s1.00.png", "Dog-gaussian-s1.00.png", "Dog-mine-s1.00.png"}


def test_blind_model_takes_no_sigma_and_says_when_it_ignored_one(three, pair):
    svc = three.service
    noisy_path, _ = pair
    noisy = read_image(noisy_path)
    expected = denoise(noisy, svc.models.models["mine"])
    path, metrics = svc.api(str(noisy_path), None, None, "mine")
    np.testing.assert_array_equal(read_image(path), expected)
    assert metrics["sigma"] is None and metrics["sigma_source"] == "blind" and metrics["note"] is None

    path, metrics = svc.api(str(noisy_path), None, 25, "mine", 2.0)  # given values are ignored, and named
    np.testing.assert_array_equal(read_image(path), expected)
    assert metrics["sigma"] is None and metrics["strength"] == 1.0
    assert "σ = 25" in metrics["note"] and "strength 2" in metrics["note"] and "blind" in metrics["note"]
    status = svc.denoise(str(noisy_path), None, 25, "mine").status()
    assert "σ = 25 you gave was ignored" in status and "Estimated" not in status
    note = svc.inspect(str(noisy_path), "mine").note
    assert "σ" not in note and "by itself" in note  # no estimate the model would not use
    _quiet_error(svc.api, str(noisy_path), None, 300, "mine")  # still validated


def test_models_are_not_shared_between_apps(pair):
    """No module-level registry: two apps with different models under one name stay apart."""
    a = build_demo({"gaussian": tiny_model("gaussian", 0)}, settings=Settings())
    b = build_demo({"gaussian": tiny_model("gaussian", 5)}, settings=Settings())
    try:
        noisy = read_image(pair[0])
        for blocks in (a, b):
            path, _ = blocks.service.api(str(pair[0]), None, 25)
            np.testing.assert_array_equal(read_image(path), denoise(noisy, blocks.service.models.models["gaussian"], sigma=25))
        assert not np.array_equal(read_image(a.service.api(str(pair[0]), None, 25)[0]),
                                  read_image(b.service.api(str(pair[0]), None, 25)[0]))
    finally:
        a.close(), b.close()


def test_rgba_and_16_bit_keep_mode_and_depth(svc, tmp_path):
    clean = clean_image()
    rgba = np.dstack([noisy_image(clean), np.linspace(0, 255, H * W).reshape(H, W).astype(np.uint8)])
    write_image(tmp_path / "rgba.png", rgba)
    out = read_image(svc.api(str(tmp_path / "rgba.png"), None, 25)[0])
    assert out.dtype == np.uint8 and out.shape == (H, W, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])  # alpha untouched

    clean16 = clean.astype(np.uint16) * 257
    write_image(tmp_path / "rgb16.png", noisy_image(clean16))
    write_image(tmp_path / "clean16.png", clean16)
    path, metrics = svc.api(str(tmp_path / "rgb16.png"), str(tmp_path / "clean16.png"))
    out = read_image(path)
    assert out.dtype == np.uint16 and out.shape == (H, W, 3)
    assert len(np.unique(out % 257)) > 1  # real 16-bit data, not 8-bit scaled up
    assert metrics["psnr_denoised"] == pytest.approx(psnr(clean16, out), abs=1e-9)

    write_image(tmp_path / "gray16.png", noisy_image(clean16[..., 1]))
    result = svc.denoise(str(tmp_path / "gray16.png"))
    assert result.denoised.dtype == np.uint16 and read_image(result.path).shape == (H, W)
    assert read_image(svc.views(result).after).shape == (H, W)  # the 8-bit view, gray too
    assert "16-bit PNG" in result.status()


def test_uploads_are_checked_on_upload(svc, pair, tmp_path):
    noisy_path, clean_path = pair
    upload = svc.inspect(str(noisy_path))
    assert upload.path == str(noisy_path) and "Noise: " in upload.note and "σ ≈" in upload.note
    assert upload.sigma == pytest.approx(estimate_sigma(to_float(read_image(noisy_path))))

    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    err = _quiet_error(svc.inspect, str(fake))
    assert "fake.png: not an image" in err.message and str(tmp_path) not in err.message
    write_image(tmp_path / "tiny.png", clean_image(2, 2))
    assert "too small (2x2)" in _quiet_error(svc.inspect, str(tmp_path / "tiny.png")).message
    assert "too small (2x2)" in _quiet_error(svc.api, str(tmp_path / "tiny.png")).message

    # A format browsers cannot show becomes a lossless PNG copy that keeps the photo's name.
    write_image(tmp_path / "scan.tif", read_image(noisy_path))
    upload = svc.inspect(str(tmp_path / "scan.tif"))
    assert upload.converted and Path(upload.path).name == "scan.png"
    np.testing.assert_array_equal(read_image(upload.path), read_image(noisy_path))

    # The reference: readable, same size, same colour layout, checked before any run.
    assert "Reference: 72x48 RGB 8-bit" in svc.check_reference(str(clean_path), str(noisy_path))
    write_image(tmp_path / "small.png", clean_image(H, W - 10))
    err = _quiet_error(svc.check_reference, str(tmp_path / "small.png"), str(noisy_path))
    assert f"{W - 10}x{H}" in err.message and f"{W}x{H}" in err.message
    assert "fake.png: not an image" in _quiet_error(svc.check_reference, str(fake), str(noisy_path)).message
    write_image(tmp_path / "gray.png", clean_image()[..., 0])
    assert "colour" in _quiet_error(svc.check_reference, str(tmp_path / "gray.png"), str(noisy_path)).message


def test_user_errors_are_one_quiet_message(svc, pair):
    noisy_path, _ = pair
    assert "255" in _quiet_error(svc.api, str(noisy_path), None, 300).message
    assert "strength" in _quiet_error(svc.api, str(noisy_path), None, None, None, 9).message
    assert "Unknown model 'nope'" in _quiet_error(svc.api, str(noisy_path), None, None, "nope").message
    assert "Please upload a photo" in _quiet_error(svc.api, None).message


def test_synthetic_noise_is_seeded(three, tmp_path):
    from denoiser.noise import make_noisy
    from denoiser_app.imageops import to_display

    svc = three.service
    params = {"sigma": 30, "shot": 0.004, "read": 2e-4, "peak": 30, "amount": 0.05, "beta1": 0.01, "beta2": 5e-4, "fraction": 0.2}
    a = synthetic.synthetic(svc, "camera", None, "gaussian", params, 7)
    b = synthetic.synthetic(svc, "camera", None, "gaussian", params, 7)
    c = synthetic.synthetic(svc, "camera", None, "gaussian", params, 8)
    np.testing.assert_array_equal(read_image(a.noisy), read_image(b.noisy))
    assert not np.array_equal(read_image(a.noisy), read_image(c.noisy))
    assert read_image(a.noisy).shape == read_image(a.clean).shape == example_clean("camera").shape
    assert [r[0] for r in a.rows] == ["noisy", "denoised", "gain"] and "seed 7" in a.status
    # the gaussian model gets the true σ; the photo model measures the noise itself
    noisy = make_noisy(example_clean("camera"), "gaussian", {"sigma": 30.0}, 7)
    expected = to_display(denoise(noisy, svc.models.models["gaussian"], sigma=30))
    np.testing.assert_array_equal(read_image(a.denoised), expected)
    assert "σ = 30.0, the true value" in a.status
    d = synthetic.synthetic(svc, "camera", None, "gaussian", params, 7, "photo", 0.5)
    expected = to_display(denoise(noisy, svc.models.models["photo"], strength=0.5))
    np.testing.assert_array_equal(read_image(d.denoised), expected)
    assert "strength 0.50" in d.status and "measured the noise itself" in d.status

    # an uploaded clean image, every noise kind (camera noise needs colour)
    clean = clean_image()
    write_image(tmp_path / "clean.png", clean)
    for kind in synthetic.NOISE_PARAMS:
        r = synthetic.synthetic(svc, None, str(tmp_path / "clean.png"), kind, params, 0)
        assert read_image(r.denoised).shape == clean.shape
        assert r.rows[0][1] == pytest.approx(round(psnr(clean, read_image(r.noisy)), 2), abs=0.011)
    assert "colour" in _quiet_error(synthetic.synthetic, svc, "camera", None, "raw", params, 0).message


def test_compare_runs_every_method_once(three, pair):
    svc = three.service
    noisy_path, clean_path = pair
    classical = [m for m in METHODS if m != "noisy"]
    result = compare.compare(svc, str(noisy_path), str(clean_path), None, True)
    captions = [c for _, c in result.gallery]
    models = [svc.models.label(n) for n in ("photo", "gaussian", "mine")]  # as the Denoise tab names them
    assert models == ["Everyday photos", "Even grain (Gaussian)", "mine"]
    expected = ["your photo", *models, *(compare.METHOD_NAMES[m] for m in classical)]
    assert captions == expected and len(set(captions)) == len(captions)  # the input once, no "noisy" twin
    assert [r[0] for r in result.rows] == expected
    assert result.columns == ["method", "PSNR (dB)", "SSIM", "took out", "seconds"]
    assert result.rows[0][1] == pytest.approx(round(psnr(read_image(clean_path), read_image(noisy_path)), 2))
    for path, _ in result.gallery:
        assert read_image(path).shape == (H, W, 3)
    description = compare.description(svc.settings.compare_max_pixels)
    assert all(compare.METHOD_NAMES[m] in description for m in classical)  # what runs is listed
    assert all(compare.TEXTBOOK_NAMES[m] in description for m in compare.TEXTBOOK_NAMES)  # and its textbook name
    assert all(len(c) <= 22 for c in captions)  # short enough for a gallery tile
    assert "slow" not in description  # times are measured and shown, never claimed
    assert "mine model is blind" in result.note

    result = compare.compare(svc, str(noisy_path), None, 25, False)
    assert result.columns == ["method", "took out", "noise left", "seconds"] and [r[0] for r in result.rows] == expected
    noise_left = [r[2] for r in result.rows]  # the input's fine noise, then what each method left
    assert noise_left[0] == pytest.approx(estimate_sigma(to_float(read_image(noisy_path))), abs=0.06)
    assert result.rows[0][1] == "" and all(isinstance(r[1], float) and r[1] > 0 for r in result.rows[1:])
    assert all(isinstance(r[3], float) and r[3] >= 0 for r in result.rows[1:]) and result.rows[0][3] == ""
    assert "σ = 25.0" in result.note and "you set" in result.note


def test_compare_gives_every_method_the_photo_models_level(three, tmp_path, monkeypatch):
    """The level each method receives is the one the Denoise tab's model measures on the whole photo,
    not the white-noise estimate, and it is named on the page; only the photo's centre is compared."""
    import denoiser.baselines

    svc = three.service
    clean = clean_image(300, 400)
    noisy = noisy_image(clean, sigma=12)
    write_image(tmp_path / "big.png", noisy)
    levels = {}
    real_classical, real_run = denoiser.baselines.classical_denoise, svc.models.run

    def heard(key, sigma) -> bool:
        levels[key] = sigma
        return True

    monkeypatch.setattr(denoiser.baselines, "classical_denoise",
                        lambda planes, key, sigma: heard(key, sigma) and real_classical(planes, key, sigma))
    monkeypatch.setattr(svc.models, "run", lambda name, image, sigma=None, *a, **k: heard(name, sigma)
                        and real_run(name, image, sigma, *a, **k))

    result = compare.compare(svc, str(tmp_path / "big.png"))
    level = estimate_noise(noisy, svc.models.models["photo"]).sigma  # the whole photo's, as the Denoise tab
    assert level != pytest.approx(estimate_sigma(to_float(noisy)), abs=0.5)  # the tiny model's differs: a real test
    assert levels.pop("mine") is None  # blind: takes no level
    assert levels and all(v == pytest.approx(level) for v in levels.values()), (level, levels)
    assert result.level == pytest.approx(level) and f"σ = {level:.1f}" in result.note and "Everyday photos" in result.note
    side = int(svc.settings.compare_max_pixels ** 0.5)
    assert read_image(result.gallery[1][0]).shape[:2] == (side, side)  # the centre crop, not the whole photo
    assert f"centre {side}x{side}" in result.note


def test_compare_runs_the_slow_network_only_when_asked(pair):
    blocks = build_demo({"photo": tiny_model("photo"), "seed": tiny_model("blind", 3)}, settings=Settings())
    try:
        svc = blocks.service
        label = svc.models.label("seed")
        quick = compare.compare(svc, str(pair[0]))
        assert label not in [c for _, c in quick.gallery] and label in quick.note
        assert label in [c for _, c in compare.compare(svc, str(pair[0]), slow=True).gallery]
    finally:
        blocks.close()


def test_page_starts_clean_and_lists_models(three):
    """No empty tables before a run; the photo controls start on the photo model; examples exist."""
    for elem_id in ("metrics-table", "synthetic-table", "compare-table", "download", "residual", "denoise-alert"):
        assert _component(three, elem_id).visible is False, elem_id
    choice = _component(three, "model-choice")
    assert choice.visible and choice.value == "photo" and [c[1] for c in choice.choices] == ["photo", "gaussian", "mine"]
    assert _component(three, "strength").minimum == 0.25 and _component(three, "strength").maximum == 3
    examples = _component(three, "photo-examples")
    assert len(examples.samples) >= 3
    one = build_demo({"custom": tiny_model("blind")}, settings=Settings())
    try:  # one blind model: no choice, no σ or strength to set
        assert not _component(one, "model-choice").visible and not _component(one, "strength").visible
        assert not _component(one, "sigma-slider").visible
    finally:
        one.close()


def test_without_env_every_shipped_model_that_loads(monkeypatch, tmp_path):
    import denoiser.hub as hub
    from denoiser_app.models import load_models

    monkeypatch.delenv("DENOISER_MODEL", raising=False)
    monkeypatch.setattr(hub, "SHIPPED_DIR", tmp_path)
    with pytest.raises(hub.ModelLoadError, match="no shipped weights for 'photo'"):
        build_demo()  # none loads: the default model's clear error
    save_tiny("gaussian", tmp_path / "gaussian")
    assert list(load_models(None, "cpu")) == ["gaussian"]  # photo missing: the one that loads
    save_tiny("photo", tmp_path / "photo")
    blocks = build_demo()
    try:
        assert blocks.service.models.names() == ["photo", "gaussian"] and blocks.service.models.photo_default == "photo"
    finally:
        blocks.close()
    with warnings.catch_warnings(record=True):  # the retired name still loads (the photo model)
        warnings.simplefilter("always")
        assert list(load_models("real", "cpu")) == ["photo"]


# ----------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def server(three):
    yield from serve(three)


def test_http_endpoints(server, pair, tmp_path):
    from gradio_client import Client, handle_file

    noisy_path, clean_path = pair
    noisy = read_image(noisy_path)
    client = Client(server, verbose=False, download_files=str(tmp_path / "downloads"))
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert len(endpoints["/denoise"]["parameters"]) == 3  # unchanged for existing callers
    assert [p["parameter_has_default"] for p in endpoints["/denoise_with_model"]["parameters"]] == [False, True, True, True, True]

    path, metrics = client.predict(handle_file(str(noisy_path)), None, None, api_name="/denoise")
    assert read_image(path).shape == noisy.shape and Path(path).suffix == ".png"
    assert metrics["model"] == "photo" and metrics["psnr_denoised"] is None and set(metrics) == METRIC_KEYS
    _, metrics = client.predict(handle_file(str(noisy_path)), handle_file(str(clean_path)), 25, api_name="/denoise")
    assert metrics["sigma"] == 25 and metrics["psnr_denoised"] is not None
    _, metrics = client.predict(handle_file(str(noisy_path)), None, 25, "gaussian", api_name="/denoise_with_model")
    assert metrics["model"] == "gaussian" and metrics["sigma"] == 25
    _, metrics = client.predict(handle_file(str(noisy_path)), sigma=25, model="mine", api_name="/denoise_with_model")
    assert metrics["sigma"] is None and "ignored" in metrics["note"]

    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(Exception, match="fake.png: not an image"):
        client.predict(handle_file(str(fake)), api_name="/denoise")  # reference and sigma are optional
    write_image(tmp_path / "small.png", clean_image(H - 8, W))
    with pytest.raises(Exception, match=f"{W}x{H - 8}"):
        client.predict(handle_file(str(noisy_path)), handle_file(str(tmp_path / "small.png")), None, api_name="/denoise")
    with pytest.raises(Exception, match="nope"):
        client.predict(handle_file(str(noisy_path)), None, None, "nope", api_name="/denoise_with_model")


def test_same_image_at_once_never_shares_a_cache_file(server, tmp_path):
    """Several visitors send the same image at the same moment (byte-identical outputs raced on
    gradio's content-addressed cache). Every response must arrive, in its own bytes."""
    from gradio_client import Client, handle_file

    users = 6
    image = tmp_path / "same.png"
    write_image(image, noisy_image(clean_image(96, 128)))
    downloads = tmp_path / "downloads"  # shared on purpose: gradio_client files downloads by content hash too
    clients = [Client(server, verbose=False, download_files=str(downloads)) for _ in range(users)]
    barrier, results, errors = threading.Barrier(users), [None] * users, []

    def visit(i):
        barrier.wait(timeout=60)
        try:
            path, _ = clients[i].predict(handle_file(str(image)), None, None, api_name="/denoise")
            results[i] = (Path(path).read_bytes(), read_image(path))
        except Exception as err:  # noqa: BLE001 - counted below
            errors.append(repr(err))

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(users)]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    assert errors == [] and all(r is not None for r in results), errors
    assert len({data for data, _ in results}) == users  # no two responses share bytes (or a cache file)
    for _, pixels in results[1:]:
        np.testing.assert_array_equal(pixels, results[0][1])  # ...but they are the same image


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
    proc = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=_run_env(str(missing)) | {"DENOISER_QUEUE_SIZE": "x"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "DENOISER_QUEUE_SIZE" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_starts_and_user_errors_leave_no_traceback(gaussian_dir, tmp_path):
    import urllib.request

    from gradio_client import Client, handle_file

    port = free_port()
    env = _run_env(str(gaussian_dir)) | {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.monotonic() + 120, b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.5)
        assert b"Photo denoiser" in body, log_path.read_text()
        assert str(gaussian_dir).encode() in body  # the page names the model's weights
        write_image(tmp_path / "tiny.png", clean_image(2, 2))
        (tmp_path / "fake.png").write_text("not an image")
        from PIL import Image

        Image.new("L", (10_000, 9_000)).save(tmp_path / "huge.png")  # 90 MP: over Pillow's warning limit too
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "dl"))
        for bad, message in (("tiny.png", "too small"), ("fake.png", "not an image"), ("huge.png", "90 megapixels")):
            with pytest.raises(Exception, match=message):
                client.predict(handle_file(str(tmp_path / bad)), None, None, api_name="/denoise")
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()
    assert "DecompressionBombWarning" not in log_path.read_text()  # refused with a message, not warned about


def test_the_app_offers_the_papers_network_beside_the_shipped_models():
    """The Compare tab runs every loaded model: with the shipped weights that includes `seed`, blind."""
    from denoiser.hub import SHIPPED_DIR
    from denoiser_app.models import Models, load_models

    if not all((SHIPPED_DIR / n / "model.safetensors").is_file() for n in ("photo", "gaussian", "seed")):
        pytest.skip("this checkout lacks shipped weights")
    models = Models(load_models(None, "cpu"), "cpu")
    assert models.names() == ["photo", "gaussian", "seed"]
    assert models.kind("seed") == "blind" and models.label("seed") == "Original paper's network"
