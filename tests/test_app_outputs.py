"""The app's result files (denoiser_app.outputs) and settings (denoiser_app.settings)."""

from __future__ import annotations

import gc
import os
import time
import zlib

import numpy as np
import pytest
from app_support import H, W, clean_image
from PIL import Image

from denoiser.io import read_image, write_image
from denoiser_app.outputs import PNG_TAG_KEYWORD, OutputDirs, result_name, stamp_png, unique_file, unique_png
from denoiser_app.settings import Settings


def test_png_stamp_makes_bytes_unique_and_keeps_pixels(tmp_path):
    import cv2

    images = {
        "rgb8.png": clean_image(),
        "gray16.png": clean_image()[..., 0].astype(np.uint16) * 257,
        "rgb16.png": clean_image().astype(np.uint16) * 257,  # written by OpenCV
        "rgba8.png": np.dstack([clean_image(), np.full((H, W), 7, np.uint8)]),
    }
    for name, array in images.items():
        a, b = tmp_path / "a" / name, tmp_path / "b" / name
        for path in (a, b):
            write_image(path, array)
        assert a.read_bytes() == b.read_bytes()
        unique_png(a), unique_png(b)
        assert a.read_bytes() != b.read_bytes()
        for path in (a, b):
            np.testing.assert_array_equal(read_image(path), array)
            with Image.open(path) as im:
                im.load()  # Pillow checks every chunk's CRC
                assert im.text[PNG_TAG_KEYWORD] == f"{path.parent.name}/{name}"
        assert cv2.imread(str(a), cv2.IMREAD_UNCHANGED) is not None
    # A PNG whose IEND is not the last thing in the file is rewritten atomically (trailing bytes dropped).
    odd = tmp_path / "odd.png"
    write_image(odd, clean_image())
    odd.write_bytes(odd.read_bytes() + b"junk")
    stamp_png(odd, "x")
    np.testing.assert_array_equal(read_image(odd), clean_image())
    assert odd.read_bytes().endswith(b"IEND" + zlib.crc32(b"IEND").to_bytes(4, "big"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    (tmp_path / "no.png").write_bytes(b"GIF89a....")
    with pytest.raises(ValueError, match="not a PNG"):
        stamp_png(tmp_path / "no.png", "x")


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".heic", ".tif"])
def test_every_download_format_is_stamped_without_touching_pixels_or_metadata(tmp_path, suffix):
    pytest.importorskip("pillow_heif")
    from denoiser.io import read_image_with_metadata
    from denoiser.metadata import Metadata

    metadata = Metadata(b"not really a profile" * 8, None)
    a, b = tmp_path / "a" / f"x{suffix}", tmp_path / "b" / f"x{suffix}"
    for path in (a, b):
        write_image(path, clean_image(), metadata.with_software("denoiser test"))
    assert a.read_bytes() == b.read_bytes()
    before = read_image(a)
    unique_file(a), unique_file(b)
    assert a.read_bytes() != b.read_bytes() and b"a/x" in a.read_bytes()
    for path in (a, b):
        image, kept = read_image_with_metadata(path)
        np.testing.assert_array_equal(image, before)
        assert kept.icc_profile == metadata.icc_profile and kept.tags()[0x0131] == "denoiser test"


def test_output_folders_are_pruned_by_age():
    outputs = OutputDirs(ttl=60)
    old, new = outputs.fresh(), outputs.fresh()
    assert old != new and old.parent == new.parent == outputs.root
    (old / "a.png").write_bytes(b"x")
    os.utime(old, (time.time() - 120, time.time() - 120))
    outputs.prune()
    assert not old.exists() and new.is_dir()
    root = outputs.root
    del outputs, old, new
    gc.collect()
    assert not root.exists()  # the root goes with the object


def test_result_names_say_what_made_them():
    assert result_name("/tmp/x/Dog.jpg", "photo", 1.0) == "Dog-photo-s1.00.png"
    assert result_name("/tmp/x/Dog.jpg", "gaussian", 0.5, 25) == "Dog-gaussian-sigma25.0-s0.50.png"
    assert result_name("/tmp/x/my photo (1).heic", "custom", 2) == "my_photo_1-custom-s2.00.png"
    assert result_name(None, "photo", 1) == "photo-photo-s1.00.png"


def test_settings_come_from_the_environment_and_refuse_bad_values():
    assert Settings.from_env({}) == Settings()
    s = Settings.from_env({"DENOISER_MODEL": " gaussian ", "DENOISER_MAX_PIXELS": "1000", "DENOISER_OUTPUT_TTL": "10",
                           "DENOISER_MAX_FILE_SIZE": "5mb"})
    assert (s.model, s.max_pixels, s.output_ttl, s.max_file_size, s.prune_interval) == ("gaussian", 1000, 10, "5mb", 5)
    for name, value in (("DENOISER_QUEUE_SIZE", "many"), ("DENOISER_CONCURRENCY", "0"), ("DENOISER_MAX_PIXELS", "-1")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})
    with pytest.raises(Exception):
        Settings().max_pixels = 1  # frozen
