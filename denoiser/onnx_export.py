"""Export a denoiser to ONNX, for apps that cannot ship PyTorch (onnxruntime in C++, a phone, a browser).

A folder gets `model.onnx`, `estimator.onnx` for a model with a noise estimator (the photo model),
and `config.json`. Both graphs take any batch, height and width; height and width must be
multiples of the graph's `stride` (in its metadata): pad the image (reflect) and crop the result,
as `denoise_tensor` does.

    model.onnx      noisy (batch, C, height, width) float32 in [0, 1]
                    sigma_map (batch, 1, height, width) float32: the noise std in [0, 1] units
                      (σ/255); absent for a blind model (seed)
                    -> denoised (batch, C, height, width), unclipped
    estimator.onnx  noisy -> noise_map (batch, 1, height, width), the per-pixel std in [0, 1] units

Why two graphs and not one with the median inside: denoise() gives the denoiser one level per
image, the median of the estimator's map over the whole image. A graph run on one tile of a large
photo could only take that tile's median, so the blind pipeline is: estimator.onnx over the image
(tiled if need be), np.median of the map, times the strength, as a constant sigma_map into model.onnx.

`onnx` and `onnxscript` (the `onnx` extra) are imported only here, when exporting.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .files import atomic_write, atomic_write_text
from .hub import CONFIG_NAME, unwrap
from .identity import weights_digest
from .model import build_model

MODEL_ONNX = "model.onnx"
ESTIMATOR_ONNX = "estimator.onnx"
# 18: at least 17 (what the README promises) and old enough for every current runtime (onnxruntime
# >= 1.14, onnxruntime-web); the graphs use only Conv, ConvTranspose, Relu, Softplus, Resize and shape ops.
OPSET = 18


class _DenoiserGraph(nn.Module):
    """The denoiser with its noise level given as a map: what model.onnx computes."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, noisy: torch.Tensor, sigma_map: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(noisy, sigma_map)  # sigma_map given: the estimator inside is not run


class _EstimatorGraph(nn.Module):
    """The noise estimator alone: what estimator.onnx computes."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.estimator = model.estimator

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.estimator(noisy)


def export_onnx(model: nn.Module, folder: str | os.PathLike) -> list[Path]:
    """Write model.onnx (+ estimator.onnx where the model has one) and config.json into `folder`,
    each atomically; returns the paths written. The model itself is not touched (mode, device)."""
    _require_exporter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A CPU float32 copy in eval mode: the export traces on example inputs, and the graph should not
    # depend on where the weights happened to live (a model straight out of GPU training, say).
    cpu = _cpu_copy(unwrap(model))
    meta = {"stride": str(cpu.stride), "channels": str(cpu.config.channels), "opset": str(OPSET),
            "sigma_units": "noise std / 255 (values in [0, 1])", "weights_sha256": weights_digest(cpu)}
    names = ["noisy", "sigma_map"] if cpu.config.noise_map else ["noisy"]
    written = [_export_graph(_DenoiserGraph(cpu), names, "denoised", folder / MODEL_ONNX,
                             {**meta, "receptive_radius": str(cpu.receptive_radius())}, cpu)]
    if getattr(cpu, "estimator", None) is not None:
        written.append(_export_graph(_EstimatorGraph(cpu), ["noisy"], "noise_map", folder / ESTIMATOR_ONNX,
                                     {**meta, "receptive_radius": str(cpu.estimator.receptive_radius())}, cpu))
    written.append(atomic_write_text(folder / CONFIG_NAME, cpu.config.to_json() + "\n"))
    return written


def _require_exporter() -> None:
    """ImportError naming the extra, before any work, where torch's exporter lacks its packages."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"exporting to ONNX needs {' and '.join(missing)}: pip install 'denoiser[onnx]'")


def _cpu_copy(model: nn.Module) -> nn.Module:
    copy = build_model(model.config)
    copy.load_state_dict({k: v.detach().float().cpu() for k, v in model.state_dict().items()})
    return copy.eval()


def _export_graph(graph: nn.Module, inputs: list[str], output: str, path: Path, meta: dict[str, str],
                  model: nn.Module) -> Path:
    import onnx
    from torch.export import Dim

    stride, channels = model.stride, model.config.channels
    # Height and width are whole numbers of strides: the U-Net's skips need it, and so the graph
    # asks nothing at run time that denoise_tensor's padding does not already guarantee.
    if stride > 1:
        base = stride
        h, w = Dim("height_steps", min=1) * stride, Dim("width_steps", min=1) * stride
    else:  # the seed network: its unpadded convs shrink the image by its receptive radius, then grow it back
        base = model.receptive_radius() + 1
        h, w = Dim("height", min=base), Dim("width", min=base)
    b = Dim("batch", min=1)
    # Example inputs: batch 2 and two different sides, so torch.export keeps all three axes dynamic
    # (a size of 1 is specialised, and equal sides could be merged into one symbol).
    examples = [torch.rand(2, channels, 2 * base, 3 * base)]
    if len(inputs) == 2:
        examples.append(torch.full((2, 1, 2 * base, 3 * base), 25 / 255))
    dynamic = {name: {0: b, 2: h, 3: w} for name in inputs}
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    with warnings.catch_warnings():
        # Quiet: the exporter's notes on axis names it chose itself, and a log line per torchvision
        # op it cannot register (we use none of them).
        warnings.simplefilter("ignore")
        registry_log.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(graph.eval(), tuple(examples), dynamo=True, opset_version=OPSET,
                                        input_names=inputs, output_names=[output], dynamic_shapes=dynamic,
                                        external_data=False, verbose=False)
        finally:
            registry_log.setLevel(level)
    proto = program.model_proto
    _name_axes(proto, stride)
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "denoiser"
    onnx.checker.check_model(proto, full_check=True)
    return atomic_write(path, lambda tmp: onnx.save_model(proto, tmp))


def _name_axes(proto, stride: int) -> None:
    """Call the graph's outer axes batch, height and width (the exporter names them after its
    symbols, e.g. '16*height_steps'), and say in each input's doc what they must be."""
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for index, name in ((0, "batch"), (2, "height"), (3, "width")):
            dims[index].dim_param = name
        value.doc_string = (f"(batch, {dims[1].dim_value}, height, width) float32; height and width are "
                            f"multiples of {stride}")
