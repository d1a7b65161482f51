"""The app's download keeps what the camera wrote and comes in the format asked for; an upload is
decoded and measured once; the status counts the whole wait; errors name the app's own limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_support import clean_image, noisy_image, tiny_model
from test_cli_formats import photo_file
from test_io_formats import FORMATS, MAKE, exif_of, icc_profile, png_header_only

from denoiser.inference import denoise
from denoiser.io import read_image, read_image_with_metadata, write_image
from denoiser.metadata import ORIENTATION, SOFTWARE
from denoiser_app import Settings, build_demo, service


@pytest.fixture(scope="module")
def svc():
    blocks = build_demo({"photo": tiny_model("photo"), "gaussian": tiny_model("gaussian")}, settings=Settings())
    yield blocks.service
    blocks.close()


@pytest.mark.parametrize("suffix", FORMATS)
def test_download_keeps_profile_and_exif(svc, tmp_path, suffix):
    source = photo_file(tmp_path / f"IMG_0001{suffix}", orientation=6)
    same = svc.denoise(str(source), save_as="same")
    assert Path(same.path).suffix == source.suffix  # "same as my photo"
    png = svc.denoise(str(source))  # the default: a lossless PNG
    assert Path(png.path).name == "IMG_0001-photo-s1.00.png"
    np.testing.assert_array_equal(read_image(png.path), png.denoised)
    for path in (same.path, png.path):
        image, metadata = read_image_with_metadata(path)
        assert image.shape == read_image(source).shape  # upright, and not turned twice
        assert metadata.icc_profile == icc_profile()  # byte for byte
        exif = exif_of(Path(path))
        assert exif[MAKE] == "Canon" and exif[ORIENTATION] == 1 and "denoiser" in exif[SOFTWARE]
        assert metadata.has_gps
    assert "with its colour profile and camera details (EXIF)" in png.status()

    svc.save(png, "jpeg", strip=True)  # another format for the same result: no second denoise
    assert Path(png.path).suffix == ".jpg"
    stripped = read_image_with_metadata(png.path)[1]
    assert stripped.exif is None and stripped.icc_profile == icc_profile()
    assert "an 8-bit JPEG (quality 95)" in png.status() and "location removed" in png.status()


def test_upload_says_when_the_photo_carries_its_location(svc, tmp_path):
    assert "GPS" in svc.inspect(str(photo_file(tmp_path / "IMG.jpg"))).note
    write_image(tmp_path / "plain.png", noisy_image(clean_image()))
    assert "GPS" not in svc.inspect(str(tmp_path / "plain.png")).note


def test_an_upload_is_decoded_and_measured_once(svc, tmp_path, monkeypatch):
    path = tmp_path / "Dog.png"
    write_image(path, noisy_image(clean_image()))
    reads, estimates = [], []
    from denoiser_app import uploads

    real_read, real_estimate = uploads.read_image_with_metadata, svc.models.estimate
    monkeypatch.setattr(uploads, "read_image_with_metadata", lambda *a, **k: reads.append(a) or real_read(*a, **k))
    monkeypatch.setattr(svc.models, "estimate", lambda *a: estimates.append(a) or real_estimate(*a))
    upload = svc.inspect(str(path))
    result = svc.denoise(str(path))
    svc.denoise(str(path), strength=0.5)
    assert len(reads) == 1 and len(estimates) == 1
    assert result.sigma == pytest.approx(upload.sigma)
    np.testing.assert_array_equal(result.denoised, denoise(read_image(path), svc.models.models["photo"]))
    with pytest.raises(ValueError):  # what the cache hands out cannot be changed by one caller for the next
        result.noisy[0, 0] = 0


def test_status_counts_the_whole_wait(svc, tmp_path):
    path = tmp_path / "Dog.png"
    write_image(path, noisy_image(clean_image()))
    result = svc.denoise(str(path))
    svc.views(result)
    assert list(result.timings) == ["reading", "measuring the noise", "denoising", "saving", "previews"]
    assert result.waited >= result.seconds == result.timings["denoising"]
    status = result.status()
    assert status.startswith(f"Done in {result.waited:.1f} s with") and "Your photo had **" in status
    assert f"{result.seconds:.1f} s of the time was the network" in status


def test_previews_are_screen_sized_but_the_download_is_whole(svc, tmp_path):
    path = tmp_path / "panorama.png"
    write_image(path, noisy_image(np.tile(clean_image(40, 72), (1, 40, 1))))  # 2880 x 40
    result = svc.denoise(str(path), None, 20, "gaussian")
    views = svc.views(result)
    assert read_image(result.path).shape == (40, 2880, 3)
    assert read_image(views.before).shape == read_image(views.after).shape == (28, 2048, 3)
    assert read_image(views.residual).shape[1] <= 2048


def test_too_large_names_the_apps_limit_and_what_to_do(svc, tmp_path):
    import gradio as gr

    with pytest.raises(gr.Error) as info:
        svc.inspect(str(png_header_only(tmp_path / "huge.png", 9000, 7000)))
    message = info.value.message
    assert "huge.png is 63 megapixels (9000x7000); this app takes photos up to 50 megapixels" in message
    assert "smaller copy" in message and "command-line" in message
    assert "DOS" not in message and "bomb" not in message and str(tmp_path) not in message


def test_the_download_png_is_encoded_as_the_cli_encodes_it(svc, tmp_path):
    """The same pixels make the same PNG from the app and from the command line (one encoder setting:
    denoiser.io.write_image's), not a faster, larger one from the app (7.5 MB against 5.7 MB at 12 MP)."""
    from denoiser.batch_work import Settings as BatchSettings
    from denoiser.batch_work import write as cli_write

    write_image(tmp_path / "photo.png", noisy_image(clean_image(192, 256)))
    result = svc.denoise(str(tmp_path / "photo.png"), strip=True)
    pixels, metadata = read_image_with_metadata(result.path)
    size = cli_write(pixels, metadata, "cli.png", str(tmp_path), BatchSettings(strip_metadata=True))
    assert abs(Path(result.path).stat().st_size - size) <= 200  # the app's unique stamp aside (a small text chunk)
