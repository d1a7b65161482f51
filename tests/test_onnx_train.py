"""`python -m train export RUN --onnx` and `python -m train push` with the graphs: uploaded with the
safetensors, refused when they are of older weights (against the local Hub of tests/hub_server.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from denoiser.hub import load_folder, save_model  # noqa: E402
from denoiser.inference import denoise  # noqa: E402
from denoiser.onnx_runtime import load_onnx  # noqa: E402
from denoiser_train.export import main as export_main  # noqa: E402
from denoiser_train.push import push_run  # noqa: E402

from test_hub import fake_run, hub, make_model  # noqa: E402,F401  (hub: the local Hub fixture)


def _matches(onnx_folder: Path, weights_folder: Path) -> bool:
    image = np.random.default_rng(0).random((27, 35, 3), dtype=np.float32)
    out = denoise(image, load_onnx(onnx_folder), sigma=20)
    return bool(np.abs(out - denoise(image, load_folder(weights_folder), sigma=20)).max() < 1e-4)


def test_export_onnx_into_the_run_then_push_uploads_it_with_the_safetensors(hub, tmp_path, capsys):
    from huggingface_hub import hf_hub_download

    run = fake_run(tmp_path / "run", make_model(0))
    assert export_main([str(run), "--onnx"]) == 0, capsys.readouterr().err
    assert (run / "model" / "model.onnx").is_file() and _matches(run / "model", run / "model")
    url = push_run(run, "user/repo", endpoint=hub.endpoint)
    files = set(hub.repos["user/repo"].commits[url.rsplit("/", 1)[1]])
    assert {"model.onnx", "model.safetensors", "config.json"} <= files
    downloaded = Path(hf_hub_download("user/repo", "model.onnx", endpoint=hub.endpoint))
    assert downloaded.read_bytes() == (run / "model" / "model.onnx").read_bytes()


def test_graphs_of_older_weights_are_neither_pushed_nor_copied(hub, tmp_path):
    run = fake_run(tmp_path / "run", make_model(0))
    assert export_main([str(run), "--onnx"]) == 0
    save_model(make_model(1), run / "model")  # the run resumed and exported new weights
    with pytest.raises(ValueError, match="model.onnx: exported from other weights"):
        push_run(run, "user/repo", endpoint=hub.endpoint)
    assert "user/repo" not in hub.repos or not any("model.onnx" in c for c in hub.repos["user/repo"].commits.values())
    assert export_main([str(run), str(tmp_path / "dest")]) == 2  # export DEST would copy them as they are
    assert not (tmp_path / "dest").exists()
    assert export_main([str(run), "--onnx"]) == 0  # exported again: now they match and go up
    push_run(run, "user/repo", endpoint=hub.endpoint)


def test_export_to_dest_with_onnx_makes_the_graphs_of_the_weights_it_ships(tmp_path):
    torch.manual_seed(0)
    run = fake_run(tmp_path / "run", make_model(2))
    dest = tmp_path / "weights" / "tiny"
    assert export_main([str(run), str(dest), "--onnx"]) == 0
    assert {"config.json", "model.safetensors", "model.onnx"} <= {p.name for p in dest.iterdir()}
    assert _matches(dest, dest)


def test_onnx_alone_needs_no_dest_but_other_options_do(tmp_path, capsys):
    run = fake_run(tmp_path / "run", make_model(0))
    with pytest.raises(SystemExit):
        export_main([str(run)])
    with pytest.raises(SystemExit):
        export_main([str(run), "--onnx", "--checkpoint", "best"])
    assert export_main([str(tmp_path / "unfinished"), "--onnx"]) == 2
    assert "missing" in capsys.readouterr().err
