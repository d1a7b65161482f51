"""ONNX export: the graphs, run in onnxruntime, give PyTorch's results (within 1e-4) on odd sizes,
through tiling, through the blind pipeline (estimator map -> median -> denoiser) and as the
README's snippet runs them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")  # the onnx extra; CI installs it through the dev extra
pytest.importorskip("onnxscript")

from denoiser.hub import load_model, save_model  # noqa: E402
from denoiser.inference import denoise, estimate_noise  # noqa: E402
from denoiser.model import build_model, preset  # noqa: E402
from denoiser.onnx_export import ESTIMATOR_ONNX, MODEL_ONNX, OPSET, export_onnx, weights_digest  # noqa: E402
from denoiser.onnx_runtime import load_onnx  # noqa: E402

from conftest import tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4


def _model(config) -> torch.nn.Module:
    """Random weights away from the near-identity init, made to matter where a test looks: the output
    moves visibly with the noise level, and the estimated map varies across the image (its median
    and mean differ), so a wrong level or statistic shows above the 1e-4 tolerance."""
    torch.manual_seed(0)
    model = build_model(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        if config.noise_map:
            model.head.weight[:, -1] *= 30  # the sigma channel
        if config.estimator:
            model.estimator.body[-1].weight *= 20
            model.estimator.body[-1].bias -= 1
    return model


@pytest.fixture(scope="module")
def blind_pair(tmp_path_factory):
    """(PyTorch model with a noise estimator, folder it was exported to): exported once per module."""
    model = _model(tiny_config(estimator=True, estimator_width=8))
    folder = tmp_path_factory.mktemp("onnx-estimator")
    export_onnx(model, folder)
    return model, folder


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None] * np.ones((height, 1, 3), np.float32)
    return np.clip(ramp + rng.normal(0, 0.1, (height, width, 3)), 0, 1).astype(np.float32)


def test_folder_holds_both_graphs_with_dynamic_axes_and_metadata(blind_pair):
    import onnx

    model, folder = blind_pair
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", ESTIMATOR_ONNX, MODEL_ONNX]
    graph = onnx.load(folder / MODEL_ONNX)
    assert graph.opset_import[0].version == OPSET >= 17
    assert [i.name for i in graph.graph.input] == ["noisy", "sigma_map"]
    assert [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim] == \
        ["batch", 3, "height", "width"]
    meta = {p.key: p.value for p in graph.metadata_props}
    assert int(meta["stride"]) == model.stride and int(meta["receptive_radius"]) == model.receptive_radius()
    assert meta["weights_sha256"] == weights_digest(model)


def test_graph_matches_pytorch_at_any_batch_and_stride_multiple(blind_pair):
    import onnxruntime as ort

    model, folder = blind_pair
    session = ort.InferenceSession(str(folder / MODEL_ONNX), providers=["CPUExecutionProvider"])
    for batch, height, width in ((1, 20, 36), (3, 44, 12)):  # one session, several shapes: the axes are dynamic
        x = torch.rand(batch, 3, height, width)
        level = torch.rand(batch, 1, 1, 1).expand(-1, 1, height, width) * 0.2
        out = session.run(None, {"noisy": x.numpy(), "sigma_map": level.contiguous().numpy()})[0]
        with torch.no_grad():
            expected = model(x, level)
        np.testing.assert_allclose(out, expected.numpy(), atol=TOLERANCE, rtol=0)


def test_odd_size_through_denoise_matches_pytorch(blind_pair):
    """37 x 53: denoise() pads to the stride and crops, for both runtimes; a given sigma, the learned
    level (estimator graph + median), a per-pixel map, and a strength on either."""
    model, folder = blind_pair
    runtime = load_onnx(folder)
    image = _image(37, 53)
    for options in ({"sigma": 20.0}, {}, {"per_pixel": True}, {"strength": 1.7}, {"per_pixel": True, "strength": 0.4}):
        np.testing.assert_allclose(denoise(image, runtime, **options), denoise(image, model, **options),
                                   atol=TOLERANCE, rtol=0, err_msg=str(options))
    assert estimate_noise(image, runtime).sigma == pytest.approx(estimate_noise(image, model).sigma, abs=1e-3)


def test_large_image_through_tiles_matches_pytorch_whole_image(blind_pair):
    model, folder = blind_pair
    runtime = load_onnx(folder)
    image = _image(301, 262, seed=1)
    tiles = []
    out = denoise(image, runtime, tile=64, progress=lambda done, total: tiles.append(total))
    assert tiles and tiles[-1] > 1  # it really ran in tiles
    np.testing.assert_allclose(out, denoise(image, model, tile=None), atol=TOLERANCE, rtol=0)
    # and the noise map, which the estimator graph also computes tile by tile
    np.testing.assert_allclose(estimate_noise(image, runtime, tile=64).map, estimate_noise(image, model, tile=None).map,
                               atol=TOLERANCE * 255, rtol=0)


def test_blind_seed_network_exports_without_a_level_input(tmp_path):
    model = _model(preset("seed", seed_filters=8, seed_depth=3))
    export_onnx(model, tmp_path)
    assert not (tmp_path / ESTIMATOR_ONNX).exists()
    image = _image(23, 31)
    np.testing.assert_allclose(denoise(image, load_onnx(tmp_path)), denoise(image, model), atol=TOLERANCE, rtol=0)


def test_readme_snippet_runs_the_blind_pipeline_like_denoise(blind_pair):
    """The README's ~15 lines of onnxruntime (no denoiser import) give denoise()'s output."""
    model, folder = blind_pair
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## ONNX\n", 1)[1].split("\n## ", 1)[0]
    code = next(block for block in re.findall(r"```python\n(.*?)```", section, re.S) if "onnxruntime" in block)
    namespace: dict = {}
    exec(compile(code, "README.md (ONNX)", "exec"), namespace)
    image = _image(37, 53, seed=2)
    for sigma in (None, 15.0):
        np.testing.assert_allclose(namespace["denoise_onnx"](str(folder), image, sigma), denoise(image, model, sigma=sigma),
                                   atol=TOLERANCE, rtol=0, err_msg=f"sigma {sigma}")


def test_stale_digest_changes_with_the_weights():
    model = _model(tiny_config())
    before = weights_digest(model)
    with torch.no_grad():
        model.tail.bias[0] += 1e-3
    assert weights_digest(model) != before


def test_shipped_photo_model_matches(tmp_path):
    """The shipped photo model (both graphs, real weights) on an odd-sized image, blind."""
    model = load_model("photo")
    export_onnx(model, tmp_path)
    image = _image(45, 61, seed=3)
    np.testing.assert_allclose(denoise(image, load_onnx(tmp_path)), denoise(image, model), atol=TOLERANCE, rtol=0)
