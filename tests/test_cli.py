"""`python -m denoiser` end to end on temporary files (subprocesses, as a user runs it)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from denoiser.io import read_image, write_image

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "denoiser", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.fixture
def images(tmp_path):
    from skimage import data

    folder = tmp_path / "in"
    write_image(folder / "a.png", data.astronaut()[:64, :80])
    write_image(folder / "b.png", data.camera()[:50, :70])
    return folder


def test_denoise_file_and_folder(images, tiny_model_dir, tmp_path):
    out = tmp_path / "one.png"
    result = cli("denoise", images / "a.png", "-o", out, "--model", tiny_model_dir, "--sigma", 15)
    assert result.returncode == 0, result.stderr
    assert read_image(out).shape == (64, 80, 3)
    result = cli("denoise", images, "-o", tmp_path / "many", "--model", tiny_model_dir, "--tile", 32)
    assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "many" / "b.png").shape == (50, 70)
    assert "Noise: " in result.stdout and "σ ≈" in result.stdout and "estimate" in result.stdout  # no --sigma: it says what it estimated


def test_existing_outputs_need_overwrite(images, tiny_model_dir, tmp_path):
    out = tmp_path / "one.png"
    write_image(out, np.zeros((4, 4), np.uint8))
    result = cli("denoise", images / "a.png", "-o", out, "--model", tiny_model_dir)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert read_image(out).shape == (4, 4)  # untouched
    assert cli("denoise", images / "a.png", "-o", out, "--model", tiny_model_dir, "--overwrite").returncode == 0


def test_clear_errors(images, tiny_model_dir, tmp_path):
    (tmp_path / "bad.png").write_text("hello")
    cases = [
        (["denoise", tmp_path / "bad.png", "-o", tmp_path / "o.png", "--model", tiny_model_dir], "not an image"),
        (["denoise", tmp_path / "nope.png", "-o", tmp_path / "o.png", "--model", tiny_model_dir], "no such file"),
        (["denoise", images / "a.png", "-o", tmp_path / "o.png", "--model", tiny_model_dir, "--sigma", -3], "sigma"),
        (["denoise", images / "a.png", "-o", tmp_path / "o.png", "--model", tmp_path / "missing"], "no such folder"),
        (["add-noise", images / "a.png", "-o", tmp_path / "n.png", "--kind", "nlf", "--beta1", 0.01], "--beta2"),
        (["evaluate", "--clean", images, "--method", "bm3d"], "unknown method"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_missing_shipped_weights_are_explained(images, tmp_path, monkeypatch, capsys):
    from denoiser import hub
    from denoiser.cli import main

    monkeypatch.setattr(hub, "SHIPPED_DIR", tmp_path / "no-weights")  # a checkout without weights
    monkeypatch.delenv("DENOISER_MODEL", raising=False)
    assert main(["denoise", str(images / "a.png"), "-o", str(tmp_path / "o.png")]) == 2
    assert "no shipped weights" in capsys.readouterr().err


def test_add_noise_is_seeded_and_estimate_reads_it_back(images, tmp_path):
    for name in ("n1.png", "n2.png"):
        result = cli("add-noise", images / "a.png", "-o", tmp_path / name, "--kind", "gaussian", "--sigma", 20, "--seed", 7)
        assert result.returncode == 0, result.stderr
    assert np.array_equal(read_image(tmp_path / "n1.png"), read_image(tmp_path / "n2.png"))
    for kind, extra in [("poisson", ["--peak", 20]), ("salt-pepper", ["--amount", 0.05]), ("mask", ["--fraction", 0.1]),
                        ("nlf", ["--beta1", 0.01, "--beta2", 0.0001])]:
        assert cli("add-noise", images / "a.png", "-o", tmp_path / f"{kind}.png", "--kind", kind, *extra).returncode == 0
    result = cli("estimate", tmp_path / "n1.png")
    assert result.returncode == 0, result.stderr
    assert white_noise_sigmas(result.stdout) == {str(tmp_path / "n1.png"): pytest.approx(20, abs=3)}
    assert "NLF beta1" in result.stdout


def test_add_noise_is_the_apps_make_noisy_and_keeps_alpha(images, tmp_path):
    """One function adds the noise for `add-noise` and the app's synthetic tab: same seed, same pixels."""
    from denoiser.io import from_float
    from denoiser.noise import make_noisy

    rgba = np.dstack([read_image(images / "a.png"), np.arange(64 * 80, dtype=np.uint32).reshape(64, 80) % 256]).astype(np.uint8)
    write_image(tmp_path / "rgba.png", rgba)
    for source in (images / "a.png", images / "b.png", tmp_path / "rgba.png"):
        out = tmp_path / f"noisy-{source.name}"
        result = cli("add-noise", source, "-o", out, "--kind", "poisson", "--peak", 20, "--seed", 4)
        assert result.returncode == 0, result.stderr
        expected = from_float(np.clip(make_noisy(read_image(source), "poisson", {"peak": 20}, 4), 0, 1), np.uint8)
        np.testing.assert_array_equal(read_image(out), expected)
    np.testing.assert_array_equal(read_image(tmp_path / "noisy-rgba.png")[..., 3], rgba[..., 3])  # alpha untouched


def test_estimate_walks_a_folder_recursively_as_denoise_does(images, tiny_model_dir, tmp_path):
    write_image(images / "trip" / "day1" / "c.png", read_image(images / "a.png")[:32, :32])
    write_image(images / ".thumbs" / "d.png", read_image(images / "a.png")[:32, :32])  # hidden: skipped
    result = cli("estimate", images, "--model", tiny_model_dir)
    assert result.returncode == 0, result.stderr
    assert set(white_noise_sigmas(result.stdout)) == {str(images / "a.png"), str(images / "b.png"),
                                                      str(images / "trip" / "day1" / "c.png")}
    empty = tmp_path / "empty" / "nested"
    empty.mkdir(parents=True)
    result = cli("estimate", empty.parent)
    assert result.returncode == 2 and "no images in this folder" in result.stderr


def white_noise_sigmas(stdout: str) -> dict[str, float]:
    """{path: the white-noise sigma} from `estimate`'s lines, e.g.
    "PATH: noise σ ≈ 24.8 (...) [photo]; white-noise σ 25.02; NLF beta1 ..., beta2 ..."."""
    found = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"(.+?): noise .*; white-noise σ (\d+(?:\.\d+)?); NLF beta1 .+", line)
        assert match, f"unexpected estimate line: {line!r}"
        found[match.group(1)] = float(match.group(2))
    return found


def test_estimate_reads_a_folder_and_measures_the_noise_added(images, tmp_path, capsys):
    rng = np.random.default_rng(3)
    noisy = tmp_path / "noisy"
    for name in ("a.png", "b.png"):  # colour and gray, 8-bit like add-noise writes them
        clean = read_image(images / name).astype(np.float64)
        write_image(noisy / name, np.clip(np.rint(clean + rng.normal(0, 25, clean.shape)), 0, 255).astype(np.uint8))
    result = cli("estimate", noisy, images)  # two folders (this once said "no such file")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    sigmas = white_noise_sigmas(result.stdout)
    # one line per image; near the true 25 (a little under: 8-bit clipping), the originals nearly clean
    assert sorted(sigmas) == sorted(str(f / n) for f in (noisy, images) for n in ("a.png", "b.png"))
    assert sigmas[str(noisy / "a.png")] == pytest.approx(24, abs=3)
    assert sigmas[str(noisy / "b.png")] == pytest.approx(24, abs=3)
    assert sigmas[str(images / "a.png")] < 5 and sigmas[str(images / "b.png")] < 5

    from denoiser.cli import main

    assert main(["estimate", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_evaluate_prints_a_table_and_writes_json(images, tiny_model_dir, tmp_path):
    out = tmp_path / "r.json"
    result = cli("evaluate", "--clean", images, "--sigma", 15, 50, "--method", "tv", "--model", tiny_model_dir, "--json", out)
    assert result.returncode == 0, result.stderr
    assert "PSNR" in result.stdout and "tv" in result.stdout
    records = json.loads(out.read_text())
    assert len(records) == 4
    assert set(records[0]) == {"dataset", "sigma", "method", "n", "psnr", "ssim", "mp_per_s"}
