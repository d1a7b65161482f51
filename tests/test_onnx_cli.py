"""`denoiser export-onnx` and `denoiser denoise --runtime onnx` (in-process: each export costs seconds)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from denoiser.cli import main  # noqa: E402
from denoiser.hub import load_folder, save_model  # noqa: E402
from denoiser.inference import denoise  # noqa: E402
from denoiser.io import read_image, write_image  # noqa: E402
from denoiser.model import build_model  # noqa: E402
from denoiser.onnx_runtime import load_onnx  # noqa: E402

from conftest import tiny_config  # noqa: E402


@pytest.fixture(scope="module")
def blind_dir(tmp_path_factory):
    """A weights folder of a tiny model with a noise estimator (the photo model's kind), weights away from init."""
    torch.manual_seed(1)
    model = build_model(tiny_config(estimator=True, estimator_width=8)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return save_model(model, tmp_path_factory.mktemp("weights") / "blind")


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    image = (np.linspace(40, 200, 53)[None, :, None] + rng.normal(0, 12, (37, 53, 3))).clip(0, 255).astype(np.uint8)
    write_image(tmp_path / "noisy.png", image)
    return tmp_path / "noisy.png"


def test_export_onnx_writes_a_folder_that_runs_like_the_weights(blind_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export-onnx", str(blind_dir)]) == 0  # default -o: ./blind-onnx
    out = tmp_path / "blind-onnx"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "estimator.onnx", "model.onnx"]
    assert "model.onnx" in capsys.readouterr().out
    image = np.random.default_rng(1).random((29, 41, 3), dtype=np.float32)
    np.testing.assert_allclose(denoise(image, load_onnx(out)), denoise(image, load_folder(blind_dir)), atol=1e-4, rtol=0)


def test_denoise_runtime_onnx_writes_what_torch_writes(blind_dir, photo, tmp_path, monkeypatch, capsys):
    """8-bit output: both runtimes round the same floats (within ~1e-6), so a value can differ by one
    level only where it lies on a rounding boundary."""
    monkeypatch.setenv("DENOISER_CACHE", str(tmp_path / "cache"))
    for runtime in ("torch", "onnx"):
        assert main(["denoise", str(photo), "-o", str(tmp_path / f"{runtime}.png"), "--model", str(blind_dir),
                     "--runtime", runtime]) == 0, capsys.readouterr().err
    by_torch, by_onnx = read_image(tmp_path / "torch.png"), read_image(tmp_path / "onnx.png")
    assert not np.array_equal(by_torch, read_image(photo))  # it did denoise
    difference = np.abs(by_torch.astype(int) - by_onnx.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
    stdout = capsys.readouterr().out
    assert stdout.count("learned estimate") == 2  # the same blind level, measured by each runtime's estimator


def test_runtime_onnx_exports_a_weights_folder_once_and_takes_an_onnx_folder_as_it_is(blind_dir, photo, tmp_path,
                                                                                      monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DENOISER_CACHE", str(cache))
    assert main(["denoise", str(photo), "-o", str(tmp_path / "a.png"), "--model", str(blind_dir), "--runtime", "onnx",
                 "--sigma", "10"]) == 0
    [exported] = list((cache / "onnx").iterdir())
    stamp = (exported / "model.onnx").stat().st_mtime_ns
    assert main(["denoise", str(photo), "-o", str(tmp_path / "b.png"), "--model", str(blind_dir), "--runtime", "onnx",
                 "--sigma", "10"]) == 0
    assert (exported / "model.onnx").stat().st_mtime_ns == stamp  # reused, not exported again
    # new weights under the same folder name are exported anew (the cache is keyed by the weights)
    model = load_folder(blind_dir)
    with torch.no_grad():
        model.tail.bias.add_(0.01)
    changed = save_model(model, tmp_path / "changed" / "blind")
    assert main(["denoise", str(photo), "-o", str(tmp_path / "c.png"), "--model", str(changed), "--runtime", "onnx",
                 "--sigma", "10"]) == 0
    assert len(list((cache / "onnx").iterdir())) == 2
    # a folder that holds model.onnx runs as it is, without torch weights in it
    assert main(["denoise", str(photo), "-o", str(tmp_path / "d.png"), "--model", str(exported), "--runtime", "onnx",
                 "--sigma", "10"]) == 0
    assert np.array_equal(read_image(tmp_path / "d.png"), read_image(tmp_path / "a.png"))


def test_missing_exporter_packages_are_one_error_line(blind_dir, tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    assert main(["export-onnx", str(blind_dir), "-o", str(tmp_path / "out")]) == 2
    assert "pip install 'denoiser[onnx]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
