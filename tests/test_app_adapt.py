"""The Denoise tab's "Adapt to this photo" option (issue 27): the model first learns the photo's own noise, then
denoises it. Run with the shipped `photo` model (the one the option is for) on a Space-like machine: no data
folder, so the measured noise goes on the photo's own denoised version. A few seconds of adapting."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from app_support import tiny_model

from denoiser.io import read_image, write_image
from denoiser_app import Settings, build_demo

BUDGET = 0.05  # minutes: enough for some steps, not for quality


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory) -> Path:
    """A 192x192 shaded photo with noise correlated over 2 px and across the colours (what the option is for)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:192, :192] / 192
    clean = np.stack([0.3 + 0.3 * xx, 0.45 + 0.1 * yy, 0.35 + 0.2 * xx * yy], axis=-1)
    white = rng.standard_normal((193, 193, 3))
    white[..., 2] = 0.6 * white[..., 0] + 0.8 * white[..., 2]
    blotches = (white[:-1, :-1] + white[1:, 1:]) / np.sqrt(2)
    path = tmp_path_factory.mktemp("photos") / "night.png"
    write_image(path, np.rint(np.clip(clean + 0.05 * blotches, 0, 1) * 255).astype(np.uint8))
    return path


@pytest.fixture(scope="module")
def photo_app():
    from denoiser.hub import ModelLoadError, load_model

    try:
        photo = load_model("photo")
    except ModelLoadError as err:
        pytest.skip(f"the shipped photo model is not in this checkout: {err}")
    blocks = build_demo({"photo": photo, "mine": tiny_model("blind", 2)}, settings=Settings(adapt_minutes=BUDGET))
    yield blocks
    blocks.close()


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """A Space: no data folder (so no clean training photos), and a scratch folder we can inspect."""
    monkeypatch.setenv("DENOISER_DATA", str(tmp_path / "no-data"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def leftovers(scratch: Path) -> list[Path]:
    """The adapting's scratch folders left in the temporary folder (where the app's results and gradio's cache
    also live)."""
    return [p for p in scratch.iterdir() if p.name.startswith("denoiser-app-adapt-")]


def test_adapting_learns_the_photos_noise_then_denoises_it(photo_app, phone_photo, no_data):
    service = photo_app.service
    heard, stages = [], []
    plain = service.denoise(str(phone_photo))
    adapted = service.denoise(str(phone_photo), adapt=True, stage=stages.append,
                              adapt_progress=lambda step, total: heard.append((step, total)))
    assert heard and heard[0][0] == 1 and all(total == heard[0][1] for _, total in heard)  # progress, step by step
    assert any(stage.startswith("Learning this photo's noise") for stage in stages)
    assert adapted.model == "photo-adapted" and "adapted to this photo" in adapted.label
    assert f"of {heard[0][1]} training steps" in adapted.status()  # the status says what it did
    assert adapted.timings["adapting"] > 0
    out = read_image(adapted.path)
    assert out.shape == read_image(plain.path).shape
    assert not np.array_equal(out, read_image(plain.path))  # the adapted weights did the denoising
    assert leftovers(no_data) == []  # the scratch weights went with the request
    again = service.denoise(str(phone_photo))
    assert np.array_equal(read_image(again.path), read_image(plain.path))  # the served model itself is untouched


def test_adapting_refuses_what_it_cannot_adapt(photo_app, phone_photo, no_data):
    service = photo_app.service
    with pytest.raises(gr.Error, match="cannot adapt"):
        service.denoise(str(phone_photo), model="mine", adapt=True)  # a blind model: no noise-level input
    off = build_demo({"photo": tiny_model("photo")}, settings=Settings(adapt_minutes=0))
    try:
        with pytest.raises(gr.Error, match="turned off"):
            off.service.denoise(str(phone_photo), adapt=True)
    finally:
        off.close()
    assert leftovers(no_data) == []


def test_the_option_shows_only_where_it_can_run(photo_app):
    boxes = [c for c in photo_app.config["components"] if c.get("props", {}).get("elem_id") == "adapt-photo"]
    assert len(boxes) == 1 and boxes[0]["props"]["visible"] is True
    assert "up to 0.05 min" in boxes[0]["props"]["label"]
    for models, settings in (({"mine": tiny_model("blind")}, Settings()), ({"photo": tiny_model("photo")},
                                                                            Settings(adapt_minutes=0))):
        blocks = build_demo(models, settings=settings)
        try:
            box = next(c for c in blocks.config["components"] if c.get("props", {}).get("elem_id") == "adapt-photo")
            assert box["props"]["visible"] is False
        finally:
            blocks.close()


def test_adapt_minutes_setting():
    assert Settings.from_env({}).adapt_minutes == 5
    assert Settings.from_env({"DENOISER_ADAPT_MINUTES": "0.5"}).adapt_minutes == 0.5
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(ValueError, match="DENOISER_ADAPT_MINUTES"):
            Settings.from_env({"DENOISER_ADAPT_MINUTES": bad})


def test_a_photo_without_plain_areas_gets_a_clear_error(photo_app, tmp_path, no_data):
    """All texture (here random pixels): no flat region to measure the noise in. Said so, nothing left behind."""
    busy = tmp_path / "texture.png"
    write_image(busy, np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    with pytest.raises(gr.Error, match=r"Could not learn this photo's noise: only \d+ flat"):
        photo_app.service.denoise(str(busy), adapt=True)
    assert leftovers(no_data) == []
