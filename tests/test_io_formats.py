"""What a photo file carries beside its pixels, kept through read_image_with_metadata and
write_image: the ICC profile byte for byte, EXIF with the orientation reset, 16-bit gray + alpha,
tRNS transparency; output formats; and errors that speak of the user's file."""

from __future__ import annotations

import functools
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

from denoiser.io import (ImageReadError, ImageTooLargeError, ImageWriteError, choose_format, read_image,
                         read_image_with_metadata, write_image)
from denoiser.metadata import GPS_IFD, ORIENTATION, SOFTWARE, Metadata

pytest.importorskip("pillow_heif", reason="pillow-heif is a dependency")

FORMATS = (".png", ".jpg", ".tif", ".webp", ".heic")
MAKE, EXPOSURE, EXIF_IFD = 0x010F, 0x829A, 0x8769


@functools.lru_cache(maxsize=1)
def icc_profile() -> bytes:
    """A real ICC profile (sRGB, as Pillow's littleCMS makes it, stamped with the time: made once)
    with a distinctive description."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile.replace(b"sRGB", b"TEST", 1)


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[EXPOSURE] = IFDRational(1, 60)
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0)})
    return exif


def exif_of(path: Path) -> Image.Exif:
    with Image.open(path) as image:
        exif = image.getexif()
        exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)  # a TIFF's sub-IFDs are read lazily, from the open file
        return exif


@pytest.fixture
def photo(tmp_path) -> Path:
    """A JPEG as a camera writes it: a profile, EXIF with camera, exposure, GPS, taken sideways (6)."""
    array = np.random.default_rng(0).integers(0, 255, (24, 40, 3), dtype=np.uint8)
    path = tmp_path / "IMG_0001.jpg"
    Image.fromarray(array).save(path, exif=camera_exif(orientation=6), icc_profile=icc_profile(), quality=95)
    return path


@pytest.mark.parametrize("suffix", FORMATS)
def test_profile_and_exif_survive_every_output_format(photo, tmp_path, suffix):
    array, metadata = read_image_with_metadata(photo)
    assert array.shape == (40, 24, 3)  # turned upright
    out = tmp_path / f"out{suffix}"
    write_image(out, array, metadata.with_software("denoiser test"))
    back, again = read_image_with_metadata(out)
    assert back.shape == array.shape  # not turned a second time: the orientation written is 1
    assert again.icc_profile == icc_profile()  # byte for byte
    exif = exif_of(out)
    assert exif[MAKE] == "Canon" and exif[ORIENTATION] == 1 and exif[SOFTWARE] == "denoiser test"
    assert float(exif.get_ifd(EXIF_IFD)[EXPOSURE]) == pytest.approx(1 / 60)
    assert exif.get_ifd(GPS_IFD)[1] == "N" and again.has_gps


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_keeps_its_profile(tmp_path, suffix):
    array = np.random.default_rng(1).integers(0, 65535, (10, 12, 3), dtype=np.uint16)
    out = tmp_path / f"c16{suffix}"
    write_image(out, array, Metadata(icc_profile(), camera_exif().tobytes()))
    back, metadata = read_image_with_metadata(out)
    assert back.dtype == np.uint16 and np.array_equal(back, array)
    assert metadata.icc_profile == icc_profile() and exif_of(out)[MAKE] == "Canon"


def test_without_exif_drops_the_camera_and_location_but_keeps_the_colours(photo, tmp_path):
    array, metadata = read_image_with_metadata(photo)
    assert metadata.has_gps
    write_image(tmp_path / "out.jpg", array, metadata.without_exif())
    back = read_image_with_metadata(tmp_path / "out.jpg")[1]
    assert back.exif is None and not back.has_gps and len(exif_of(tmp_path / "out.jpg")) == 0
    assert back.icc_profile == icc_profile()


def test_exif_keeps_descriptions_not_layout_or_thumbnails(tmp_path):
    """A TIFF's IFD0 holds its strip offsets and sizes: copied into a JPEG they would be nonsense."""
    array = np.zeros((6, 8, 3), np.uint8)
    Image.fromarray(array).save(tmp_path / "in.tif", exif=camera_exif())
    tags = read_image_with_metadata(tmp_path / "in.tif")[1].tags()
    assert tags[MAKE] == "Canon" and not {256, 257, 273, 279} & set(tags)  # width, height, strips


def test_16bit_gray_alpha_png_stays_16bit(tmp_path):
    import cv2

    array = np.random.default_rng(2).integers(0, 65535, (9, 7, 2), dtype=np.uint16)
    array[0, 0] = (4980, 1234)  # the value: it once came back as 19
    out = tmp_path / "ga16.png"
    write_image(out, array)
    assert out.read_bytes()[24:26] == bytes([16, 4])  # IHDR: bit depth 16, colour type 4 (gray + alpha)
    back = read_image(out)
    assert back.dtype == np.uint16 and np.array_equal(back, array)
    decoded = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)  # an independent decoder agrees (it expands to BGRA)
    assert np.array_equal(decoded[..., 0], array[..., 0]) and np.array_equal(decoded[..., 3], array[..., 1])


@pytest.mark.parametrize("kind", ["gray", "rgb", "gray16"])
def test_trns_transparency_becomes_alpha_and_is_written_back(tmp_path, kind):
    rng = np.random.default_rng(3)
    if kind == "rgb":
        array, key = rng.integers(0, 255, (8, 10, 3), dtype=np.uint8), (9, 8, 7)
    elif kind == "gray":
        array, key = rng.integers(0, 255, (8, 10), dtype=np.uint8), 77
    else:
        array, key = rng.integers(0, 65535, (8, 10), dtype=np.uint16), 4980
    array[2:4, 3:6] = key
    hidden = (array == key).all(axis=2) if array.ndim == 3 else array == key
    Image.fromarray(array).save(tmp_path / "in.png", transparency=key)
    back = read_image(tmp_path / "in.png")
    assert back.dtype == array.dtype and back.shape[-1] == (4 if kind == "rgb" else 2)
    assert np.array_equal(back[..., -1] == 0, hidden)  # transparent exactly where the key colour was
    assert np.array_equal(back[..., :-1].reshape(array.shape), array)  # the pixels themselves untouched
    write_image(tmp_path / "out.png", back)
    assert np.array_equal(read_image(tmp_path / "out.png")[..., -1], back[..., -1])


def test_16bit_pgm_takes_the_32bit_integer_branch(tmp_path):
    """Pillow opens 16-bit PGM as mode I (32-bit integers); that branch of pil_to_array keeps it."""
    array = (np.arange(12 * 9, dtype=np.uint16).reshape(12, 9) * 601)
    Image.fromarray(array).save(tmp_path / "g16.pgm")
    assert Image.open(tmp_path / "g16.pgm").mode == "I"
    back = read_image(tmp_path / "g16.pgm")
    assert back.dtype == np.uint16 and np.array_equal(back, array)


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".heic"])
def test_8bit_formats_get_16bit_values_rounded(tmp_path, suffix):
    array = np.full((16, 16, 3), 257 * 200 + 100, np.uint16)
    write_image(tmp_path / f"x{suffix}", array)
    back = read_image(tmp_path / f"x{suffix}")
    assert back.dtype == np.uint8 and abs(int(np.median(back)) - 200) <= 2


def test_choose_format():
    assert [choose_format("same", s) for s in ("png", "jpeg", "heic", "tiff", "webp")] == ["png", "jpeg", "heic", "tiff", "webp"]
    assert [choose_format("same", s) for s in ("bmp", "gif", "ppm", None)] == ["png"] * 4
    assert choose_format("jpeg", "png") == "jpeg"
    with pytest.raises(ValueError, match="unknown output format"):
        choose_format("jpg2000", "png")


def test_write_errors_name_the_users_path(tmp_path, monkeypatch):
    array = np.zeros((4, 4, 3), np.uint8)
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(ImageWriteError, match="notes.txt is a file, not a folder") as info:
        write_image(tmp_path / "notes.txt" / "out.png", array)
    assert str(tmp_path / "notes.txt" / "out.png") in str(info.value)

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", src, None, dst)

    monkeypatch.setattr(os, "replace", refuse)  # the rename of the temporary file fails
    with pytest.raises(ImageWriteError) as info:
        write_image(tmp_path / "out.png", array)
    assert str(info.value) == f"{tmp_path / 'out.png'}: cannot write it (permission denied)"
    assert list(tmp_path.iterdir()) == [tmp_path / "notes.txt"]  # no temporary file left behind


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims a size (its pixels are missing): enough for Pillow's size checks."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def test_too_large_names_our_limit_not_pillows(tmp_path):
    for size in ((9000, 7000), (20000, 20000)):  # above our 50 MP; the second also above Pillow's bomb guard
        with pytest.raises(ImageTooLargeError) as info:
            read_image(png_header_only(tmp_path / "big.png", *size))
        message = str(info.value)
        assert "limit of 50,000,000 pixels (50 megapixels)" in message and "scale or crop it" in message
        assert "DOS" not in message and "bomb" not in message
        assert info.value.pixels == size[0] * size[1] and info.value.limit == 50_000_000


def test_unreadable_says_what_we_read(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / "notes.png")
    assert "notes.png: not an image file" in str(info.value) and "HEIC" in str(info.value)
    assert "Pillow" not in str(info.value)
