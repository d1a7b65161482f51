"""The bad-input table: every kind of awkward upload, through the library, the CLI, the app's reader
and the trainer's data loader. Each case either gives an error that names the problem or a
documented, sensible result; never a traceback, and the process stays usable afterwards."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from denoiser.cli import main as cli_main
from denoiser.inference import denoise
from denoiser.io import ImageReadError, read_image, write_image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path) -> Path:
    """A 100-byte PNG that declares 100 000 x 100 000 pixels."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
    return path


def make(kind: str, folder: Path) -> Path:
    """Write the file for one case and return its path."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
    path = folder / {"truncated-jpeg": "cut.jpg", "cmyk-jpeg": "cmyk.jpg", "animated-gif": "anim.gif",
                     "multipage-tiff": "pages.tif", "16bit-rgb": "c16.tif"}.get(kind, f"{kind}.png")
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text-as-png":
        path.write_text("this is not an image")
    elif kind == "truncated-png":
        Image.fromarray(photo).save(path)
        path.write_bytes(path.read_bytes()[:100])
    elif kind == "truncated-jpeg":
        Image.fromarray(photo).save(path, quality=90)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "bomb":
        bomb_png(path)
    elif kind == "1x1":
        Image.fromarray(photo[:1, :1]).save(path)
    elif kind == "1xN":
        Image.fromarray(photo[:1]).save(path)
    elif kind == "16bit-gray":
        write_image(path, rng.integers(0, 65535, (30, 20), dtype=np.uint16))
    elif kind == "16bit-rgb":
        write_image(path, rng.integers(0, 65535, (30, 20, 3), dtype=np.uint16))
    elif kind == "cmyk-jpeg":
        Image.fromarray(photo).convert("CMYK").save(path)
    elif kind == "palette-transparency":
        Image.fromarray(photo).convert("P").save(path, transparency=0)
    elif kind == "la":
        Image.fromarray(photo[..., :2], "LA").save(path)
    elif kind == "rgba":
        Image.fromarray(np.dstack([photo, photo[..., :1]]), "RGBA").save(path)
    elif kind == "animated-gif":
        frames = [Image.fromarray(np.roll(photo, i, axis=1)) for i in range(3)]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    elif kind == "multipage-tiff":
        frames = [Image.fromarray(photo), Image.fromarray(photo[:10, :10])]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


# kind -> (error text expected, or None when the documented result is a successful read; shape)
FILE_CASES = {
    "empty": (r"empty \(0 bytes\)", None),
    "text-as-png": ("not an image", None),
    "truncated-png": ("truncated or corrupt", None),
    "truncated-jpeg": ("truncated or corrupt", None),
    "bomb": ("decompression bomb|exceeds the limit", None),
    "1x1": (None, (1, 1, 3)),
    "1xN": (None, (1, 48, 3)),
    "16bit-gray": (None, (30, 20)),
    "16bit-rgb": (None, (30, 20, 3)),
    "cmyk-jpeg": (None, (40, 48, 3)),
    "palette-transparency": (None, (40, 48, 4)),
    "la": (None, (40, 48, 2)),
    "rgba": (None, (40, 48, 4)),
    "animated-gif": (None, (40, 48, 3)),  # the first frame
    "multipage-tiff": (None, (40, 48, 3)),  # the first page
}


@pytest.mark.parametrize("kind", sorted(FILE_CASES))
def test_library_reader_and_denoiser(kind, tmp_path, tiny_model):
    error, shape = FILE_CASES[kind]
    path = make(kind, tmp_path)
    if error:
        with pytest.raises(ImageReadError, match=error) as info:
            read_image(path)
        assert path.name in str(info.value)
    else:
        image = read_image(path)
        assert image.shape == shape
        out = denoise(image, tiny_model, sigma=10)
        assert out.shape == image.shape and out.dtype == image.dtype
    # still healthy for the next request
    assert denoise(np.zeros((8, 8, 3), np.uint8), tiny_model, sigma=5).shape == (8, 8, 3)


@pytest.mark.parametrize("kind", sorted(FILE_CASES))
def test_cli(kind, tmp_path, tiny_model_dir, capsys):
    error, _ = FILE_CASES[kind]
    path = make(kind, tmp_path)
    code = cli_main(["denoise", str(path), "-o", str(tmp_path / "out" / "result.png"), "--model", str(tiny_model_dir),
                     "--sigma", "10"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if error:
        assert code == 2 and path.name in err
    else:
        assert code == 0, err
        assert read_image(tmp_path / "out" / "result.png").shape == FILE_CASES[kind][1]


def test_too_small_to_estimate_asks_for_sigma(tmp_path, tiny_model_dir, capsys):
    code = cli_main(["denoise", str(make("1x1", tmp_path)), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model_dir)])
    assert code == 2 and "give sigma explicitly" in capsys.readouterr().err


@pytest.mark.parametrize("kind", [k for k, (error, _) in FILE_CASES.items() if error])
def test_app_reader(kind, tmp_path):
    gr = pytest.importorskip("gradio")
    from denoiser_app.uploads import load_image_with_metadata

    path = make(kind, tmp_path)
    with pytest.raises(gr.Error) as info:
        load_image_with_metadata(str(path), "a noisy photo")
    assert path.name in str(info.value) and str(tmp_path) not in str(info.value)


@pytest.mark.parametrize("sigma", [-1.0, float("nan"), float("inf"), 1e9])
def test_bad_sigma_everywhere(sigma, tmp_path, tiny_model, tiny_model_dir, capsys):
    with pytest.raises(ValueError, match="sigma"):
        denoise(np.zeros((8, 8), np.uint8), tiny_model, sigma=sigma)
    path = make("rgba", tmp_path)
    code = cli_main(["denoise", str(path), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model_dir), "--sigma", str(sigma)])
    assert code == 2 and "sigma" in capsys.readouterr().err


def test_unknown_noise_kind(tmp_path, capsys):
    from denoiser.noise import make_noise
    from denoiser_train.data import NoiseSpec

    with pytest.raises(ValueError, match="unknown noise kind 'speckle'"):
        make_noise("speckle", sigma=3)
    with pytest.raises(ValueError, match="speckle"):
        NoiseSpec.parse("speckle:0-5")
    with pytest.raises(SystemExit):  # argparse refuses it with a usage line
        cli_main(["add-noise", str(make("rgba", tmp_path)), "-o", str(tmp_path / "n.png"), "--kind", "speckle"])
    assert "invalid choice" in capsys.readouterr().err


def test_reference_of_a_different_size():
    from denoiser.metrics import psnr, ssim

    for metric in (psnr, ssim):
        with pytest.raises(ValueError, match="differ in size"):
            metric(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 12, 3), np.uint8))


def test_trainer_data_problems(tmp_path):
    from denoiser_train.data import load_clean, load_pairs

    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_clean(tmp_path / "empty", 3, 32)
    image = np.zeros((40, 40, 3), np.uint8)
    write_image(tmp_path / "pairs" / "noisy" / "a_1.png", image)
    write_image(tmp_path / "pairs" / "gt" / "b_1.png", image)
    with pytest.raises(ValueError, match="no partner"):
        load_pairs(tmp_path / "pairs", 3, 32)
    write_image(tmp_path / "small" / "x.png", np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="smaller than the 32px patch"):
        load_clean(tmp_path / "small", 3, 32)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bad.png").write_text("nope")
    with pytest.raises(ImageReadError, match="bad.png"):
        load_clean(tmp_path / "broken", 3, 32)
