import numpy as np
import pytest
from PIL import Image

from denoiser.io import ImageReadError, read_image, write_image


def save(path, image, **kw):
    image.save(path, **kw)
    return path


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = save(tmp_path / "rot.jpg", image, exif=exif)
    assert read_image(path).shape == (40, 20, 3)


def test_16bit_gray_png_round_trip(tmp_path):
    array = (np.arange(30 * 20, dtype=np.uint16).reshape(30, 20) * 100)
    write_image(tmp_path / "g16.png", array)
    back = read_image(tmp_path / "g16.png")
    assert back.dtype == np.uint16 and np.array_equal(back, array)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgb_round_trip(tmp_path, suffix):
    array = np.random.default_rng(0).integers(0, 65535, (12, 10, 3), dtype=np.uint16)
    write_image(tmp_path / f"c16{suffix}", array)
    back = read_image(tmp_path / f"c16{suffix}")
    assert back.dtype == np.uint16 and np.array_equal(back, array)


def test_palette_cmyk_la_are_converted(tmp_path):
    p = Image.new("P", (8, 8))
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    assert read_image(save(tmp_path / "p.png", p)).shape == (8, 8, 3)
    p.info["transparency"] = 0
    assert read_image(save(tmp_path / "pt.png", p, transparency=0)).shape == (8, 8, 4)
    assert read_image(save(tmp_path / "c.jpg", Image.new("CMYK", (8, 8)))).shape == (8, 8, 3)
    assert read_image(save(tmp_path / "la.png", Image.new("LA", (8, 8)))).shape == (8, 8, 2)


def test_bad_files_name_file_and_problem(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    good = save(tmp_path / "good.png", Image.new("RGB", (64, 64), (1, 2, 3)))
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    jpg = save(tmp_path / "good.jpg", Image.effect_noise((64, 64), 50).convert("RGB"))
    (tmp_path / "cut.jpg").write_bytes(jpg.read_bytes()[: len(jpg.read_bytes()) // 2])
    for name, problem in [("empty.png", "empty"), ("text.png", "not an image"), ("cut.png", "truncated"),
                          ("cut.jpg", "truncated"), ("missing.png", "no such file")]:
        with pytest.raises(ImageReadError, match=problem) as info:
            read_image(tmp_path / name)
        assert name in str(info.value)


def test_pixel_limit_refuses_decompression_bombs(tmp_path, monkeypatch):
    path = save(tmp_path / "big.png", Image.new("L", (300, 300)))
    with pytest.raises(ImageReadError, match="90,000 pixels exceeds"):
        read_image(path, limit=50_000)
    monkeypatch.setenv("DENOISER_MAX_PIXELS", "1000")
    with pytest.raises(ImageReadError, match="DENOISER_MAX_PIXELS"):
        read_image(path)


def test_write_is_atomic_and_refuses_bad_formats(tmp_path):
    target = tmp_path / "out.png"
    write_image(target, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        write_image(target, np.zeros((4, 4, 3), np.float32))  # fails before touching the file
    assert read_image(target).shape == (4, 4, 3)
    with pytest.raises(ValueError, match="JPEG cannot store transparency"):
        write_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="unknown image format"):
        write_image(tmp_path / "x.txt", np.zeros((4, 4), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp files left


def test_first_frame_of_animations(tmp_path):
    frames = [Image.new("RGB", (8, 8), (i * 50, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert read_image(tmp_path / "a.gif").shape == (8, 8, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_path_orients_like_pillow(orientation):
    from PIL import ImageOps

    from denoiser.io16 import orient as _orient

    array = np.random.default_rng(orientation).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(image))
    assert np.array_equal(_orient(array, orientation), expected)


def test_16bit_gray_alpha_tiff_is_written_as_rgba(tmp_path):
    """Pillow cannot open a 2-sample 16-bit TIFF, so gray+alpha goes to TIFF as RGBA (PNG keeps it:
    test_io_formats.py)."""
    array = np.random.default_rng(0).integers(0, 65535, (8, 6, 2), dtype=np.uint16)
    write_image(tmp_path / "la.tif", array)
    back = read_image(tmp_path / "la.tif")
    assert back.shape == (8, 6, 4) and back.dtype == np.uint16
    assert np.array_equal(back[..., 0], array[..., 0]) and np.array_equal(back[..., 3], array[..., 1])
