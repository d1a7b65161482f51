"""Phone photos: HEIC/HEIF (what an iPhone saves by default) read through pillow-heif, upright,
in the library, the command line and the app."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_support import clean_image, noisy_image, tiny_model

from denoiser.inference import denoise
from denoiser.io import is_heif, list_images, read_image

pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is in requirements.txt")


def write_heic(path: Path, array: np.ndarray, orientation: int = 1) -> Path:
    """A lossless HEIC (4:4:4) with an EXIF orientation, as pillow-heif writes it."""
    from PIL import Image

    pillow_heif.register_heif_opener()
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, format="HEIF", exif=exif.tobytes(), quality=-1, chroma=444)
    return path


@pytest.fixture
def heic(tmp_path) -> tuple[Path, np.ndarray]:
    """(IMG_0001.HEIC taken "sideways": EXIF orientation 6, the pixels a viewer shows upright)."""
    stored = noisy_image(clean_image(48, 72))
    upright = np.rot90(stored, -1)  # orientation 6: rotate 90° clockwise to display
    return write_heic(tmp_path / "IMG_0001.HEIC", stored, orientation=6), np.ascontiguousarray(upright)


def test_read_image_reads_heic_upright(heic, tmp_path):
    path, upright = heic
    assert is_heif(path) and not is_heif(Path(__file__))
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == upright.shape == (72, 48, 3)
    assert np.abs(image.astype(int) - upright).mean() < 2  # same pixels, turned the right way
    assert path in list_images(path.parent)  # the command line finds HEIC files in a folder


def test_command_line_denoises_heic(heic, tmp_path):
    from denoiser.cli import main
    from denoiser.hub import save_model

    path, _ = heic
    folder = save_model(tiny_model("gaussian"), tmp_path / "model")
    assert main(["denoise", str(path), "-o", str(tmp_path / "out.png"), "--model", str(folder)]) == 0
    assert read_image(tmp_path / "out.png").shape == (72, 48, 3)


def test_app_accepts_heic_uploads(heic):
    from denoiser_app import Settings, build_demo

    path, _ = heic
    blocks = build_demo({"photo": tiny_model("photo")}, settings=Settings())
    try:
        svc = blocks.service
        upload = svc.inspect(str(path))  # browsers cannot show HEIC: a lossless PNG copy is shown
        assert upload.converted and Path(upload.path).name == "IMG_0001.png" and upload.note.startswith("48x72 RGB")  # upright
        np.testing.assert_array_equal(read_image(upload.path), read_image(path))
        out, metrics = svc.api(str(path))
        assert Path(out).name == "IMG_0001-photo-s1.00.png"
        np.testing.assert_array_equal(read_image(out), denoise(read_image(path), svc.models.models["photo"]))
    finally:
        blocks.close()
