"""`denoiser denoise` keeps what the camera wrote (colour profile, EXIF), writes the format asked
for, says plainly why it cannot write, shows progress on a large photo, and names itself the way
it was started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from app_support import ROOT, clean_image, noisy_image
from PIL import Image
from test_io_formats import FORMATS, MAKE, camera_exif, exif_of, icc_profile

from denoiser.cli import main
from denoiser.io import read_image, read_image_with_metadata, write_image
from denoiser.metadata import ORIENTATION, SOFTWARE


def photo_file(path: Path, orientation: int = 1) -> Path:
    """A noisy photo in the suffix's format with a colour profile and camera EXIF."""
    from denoiser.io import _heif_opener

    _heif_opener()
    array = noisy_image(clean_image(40, 56))
    Image.fromarray(array).save(path, exif=camera_exif(orientation).tobytes(), icc_profile=icc_profile(),
                                **({"quality": 95} if path.suffix in (".jpg", ".webp", ".heic") else {}))
    return path


def outputs(folder: Path) -> list[str]:
    """The images in an output folder (not the run journal, .denoiser-journal/)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def denoise(*args) -> int:
    return main(["denoise", *map(str, args)])


@pytest.mark.parametrize("suffix", FORMATS)
def test_denoise_keeps_the_profile_and_exif_in_the_same_format(tmp_path, tiny_model_dir, capsys, suffix):
    source = photo_file(tmp_path / f"IMG{suffix}", orientation=8)
    assert denoise(source, "-o", tmp_path / "out", "--model", tiny_model_dir) == 0
    out = tmp_path / "out" / source.name  # same name, same format
    image, metadata = read_image_with_metadata(out)
    assert image.shape == read_image(source).shape  # upright, and not turned again by a stale orientation
    assert metadata.icc_profile == icc_profile()  # byte for byte
    exif = exif_of(out)
    assert exif[MAKE] == "Canon" and exif[ORIENTATION] == 1 and exif[SOFTWARE].startswith("denoiser ")
    assert metadata.has_gps

    assert denoise(source, "-o", tmp_path / f"bare{suffix}", "--model", tiny_model_dir, "--strip-metadata") == 0
    stripped = read_image_with_metadata(tmp_path / f"bare{suffix}")[1]
    assert stripped.exif is None and stripped.icc_profile == icc_profile()  # the colours stay right


def test_a_folder_with_a_heic_photo_and_the_format_choice(tmp_path, tiny_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    photo_file(folder / "IMG_0001.HEIC")
    write_image(folder / "scan.bmp", noisy_image(clean_image(32, 48)))
    write_image(folder / "deep.png", (noisy_image(clean_image(32, 48)).astype(np.uint16) * 257))
    assert denoise(folder, "-o", tmp_path / "same", "--model", tiny_model_dir) == 0
    assert outputs(tmp_path / "same") == ["IMG_0001.HEIC", "deep.png", "scan.png"]
    assert read_image(tmp_path / "same" / "deep.png").dtype == np.uint16  # PNG holds 16 bits

    for quality in (95, 40):
        assert denoise(folder, "-o", tmp_path / f"jpeg{quality}", "--format", "jpeg", "--quality", quality,
                       "--model", tiny_model_dir) == 0
    names = outputs(tmp_path / "jpeg95")
    assert names == ["IMG_0001.jpg", "deep.jpg", "scan.jpg"]
    assert read_image(tmp_path / "jpeg95" / "deep.jpg").dtype == np.uint8  # JPEG holds 8
    assert (tmp_path / "jpeg40" / "IMG_0001.jpg").stat().st_size < (tmp_path / "jpeg95" / "IMG_0001.jpg").stat().st_size

    assert denoise(folder / "deep.png", "-o", tmp_path / "deep.tif", "--model", tiny_model_dir) == 0
    assert read_image(tmp_path / "deep.tif").dtype == np.uint16


def test_output_named_heic_is_a_file(tmp_path, tiny_model_dir, capsys):
    source = photo_file(tmp_path / "in.png")
    assert denoise(source, "-o", tmp_path / "x.heic", "--model", tiny_model_dir) == 0
    assert (tmp_path / "x.heic").is_file() and read_image(tmp_path / "x.heic").shape == read_image(source).shape
    assert denoise(source, "-o", tmp_path / "y.jpg", "--format", "png", "--model", tiny_model_dir) == 2
    assert "y.jpg: the name asks for JPEG but --format png was given" in capsys.readouterr().err
    assert denoise(source, "-o", tmp_path / "z.jpg", "--quality", 0, "--model", tiny_model_dir) == 2
    assert "--quality must be 1-100" in capsys.readouterr().err


def test_unwritable_outputs_are_one_line_naming_the_users_path(tmp_path, tiny_model_dir):
    source = photo_file(tmp_path / "in.png")
    (tmp_path / "notes.txt").write_text("a file")
    cases = [(tmp_path / "notes.txt" / "out.png", "notes.txt is a file, not a folder")]
    if Path("/sys").is_dir():
        cases.append((Path("/sys/x.png"), "/sys/x.png: cannot write it"))
    for target, message in cases:
        result = subprocess.run([sys.executable, "-m", "denoiser", "denoise", str(source), "-o", str(target),
                                 "--model", str(tiny_model_dir)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr and str(target) in result.stderr
        assert "Traceback" not in result.stderr and "/." not in result.stderr  # no temporary file's name


def test_progress_on_one_large_photo(tmp_path, tiny_model_dir, capsys):
    source = tmp_path / "big.png"
    write_image(source, noisy_image(clean_image(96, 128)))
    assert denoise(source, "-o", tmp_path / "out.png", "--model", tiny_model_dir, "--tile", 32) == 0
    captured = capsys.readouterr()
    assert "big.png" in captured.err and "tile" in captured.err  # the tile bar, on stderr
    assert "Noise: " in captured.out  # the level in a word first, the numbers after
    assert denoise(source, "-o", tmp_path / "out2.png", "--model", tiny_model_dir) == 0
    assert "tile" not in capsys.readouterr().err  # one tile: nothing to show


def test_help_names_the_command_the_user_typed(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])  # what the `denoiser` console script runs
    assert capsys.readouterr().out.startswith("usage: denoiser ")
    result = subprocess.run([sys.executable, "-m", "denoiser", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.startswith("usage: python -m denoiser ")


def test_noise_in_words():
    from denoiser.inference import NoiseEstimate, noise_word

    assert [noise_word(s) for s in (0.5, 3.3, 7.4, 13.3, 23.8)] == ["light", "light", "moderate", "moderate", "heavy"]
    plain = NoiseEstimate(7.4, 5.5, 10.9, "learned").plain()
    assert plain == "Noise: moderate (σ ≈ 7.4, learned estimate; 5.5–10.9 across the image)"


def test_plain_and_expert_descriptions_say_the_same():
    from denoiser.inference import NoiseEstimate

    white = NoiseEstimate(23.1, 10.3, 37.5, "learned", learned_weight=0.0)
    assert white.describe() == "σ ≈ 23.1 (learned estimate; the noise looks white; 10.3–37.5 across the image)"
    assert white.plain() == "Noise: heavy (σ ≈ 23.1, learned estimate; the noise looks white; 10.3–37.5 across the image)"
    assert NoiseEstimate(9.0, 9.0, 9.0, "wavelet").describe() == "σ ≈ 9.0 (white-noise estimate)"
