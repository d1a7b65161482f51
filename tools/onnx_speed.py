"""onnxruntime against PyTorch on this CPU: the same weights on the same RGB image with the same
number of threads, in one process, each runtime in its fastest memory layout, warm-up excluded.

    python -m tools.onnx_speed [--model gaussian --model photo] [--size 1024] [--threads 2] [--repeats 5]

Each model is exported to a temporary folder first (denoiser.onnx_export), so the graph timed is
the one `denoiser export-onnx` writes. Timed: `denoise()` on a uint8 photo, end to end, with the
network in either runtime (what `denoise --runtime onnx` changes, file reading and writing aside);
then the network alone on the whole image, the noise level given (σ 25), and the estimator graph
for a model that has one. PyTorch runs in NCHW and channels_last (model and input alike); onnxruntime
takes NCHW, the only layout an ONNX Conv accepts, and reorders to its own blocked layout inside
(graph optimisation level ALL, its default). Rounds are interleaved (one call of each runner per
round), so load from other processes on a shared machine falls on all of them alike; the median
of the rounds is the figure, the best is shown beside it.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from denoiser.hub import load_model
from denoiser.inference import denoise
from denoiser.onnx_export import ESTIMATOR_ONNX, MODEL_ONNX, export_onnx
from denoiser.onnx_runtime import load_onnx


@dataclass
class Runner:
    model: str
    graph: str  # "denoiser" or "estimator" (the network alone), or "denoise()" (the library call, end to end)
    runtime: str  # "pytorch (NCHW)", "pytorch (channels_last)", "onnxruntime (NCHW)"
    call: Callable[[], np.ndarray]
    times: list[float]


def _torch_runner(name: str, graph: str, net: torch.nn.Module, inputs: list[torch.Tensor], layout: str) -> Runner:
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    net = copy.deepcopy(net).to(memory_format=fmt)  # a copy each: .to() converts a module in place
    args = [t.contiguous(memory_format=fmt) for t in inputs]

    def call() -> np.ndarray:
        with torch.inference_mode():
            return net(*args).numpy()

    return Runner(name, graph, f"pytorch ({layout})", call, [])


def _ort_runner(name: str, graph: str, path: str, feed: dict[str, np.ndarray], threads: int) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return Runner(name, graph, "onnxruntime (NCHW)", lambda: session.run(None, feed)[0], [])


class _Estimator(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.estimator = model.estimator

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.estimator(noisy)


def runners_for(source: str, size: int, threads: int, folder: str) -> tuple[list[Runner], list[str]]:
    """The runners for one model, and a line per graph saying how far the runtimes' outputs differ."""
    model = load_model(source)
    export_onnx(model, folder)
    rng = np.random.default_rng(0)
    noisy = np.clip(rng.random((1, 3, size, size), dtype=np.float32) * 0.6 + 0.2
                    + rng.normal(0, 25 / 255, (1, 3, size, size)).astype(np.float32), 0, 1).astype(np.float32)
    level = np.full((1, 1, size, size), 25 / 255, np.float32)
    x, s = torch.from_numpy(noisy), torch.from_numpy(level)
    graphs = [("denoiser", model, [x, s] if model.config.noise_map else [x], MODEL_ONNX,
               {"noisy": noisy, "sigma_map": level} if model.config.noise_map else {"noisy": noisy})]
    if getattr(model, "estimator", None) is not None:
        graphs.append(("estimator", _Estimator(model).eval(), [x], ESTIMATOR_ONNX, {"noisy": noisy}))
    runners, agreement = [], []
    # What a user waits for: denoise() on a uint8 photo (the noise level estimated, padding, the
    # output clipped and rounded), the same library code with the network in either runtime.
    photo = np.ascontiguousarray((noisy[0].transpose(1, 2, 0) * 255).round().astype(np.uint8))
    by_onnx = load_onnx(folder, threads)
    for runtime, net in (("pytorch (channels_last)", model), ("onnxruntime (NCHW)", by_onnx)):
        runners.append(Runner(source, "denoise()", runtime, functools.partial(denoise, photo, net), []))
    outputs = [r.call() for r in runners[-2:]]
    agreement.append(f"{source} denoise(): uint8 values that differ {np.mean(outputs[0] != outputs[1]):.1e}, "
                     f"by at most {np.abs(outputs[0].astype(int) - outputs[1]).max()}")
    for graph, net, inputs, filename, feed in graphs:
        group = [_torch_runner(source, graph, net, inputs, layout) for layout in ("NCHW", "channels_last")]
        group.append(_ort_runner(source, graph, os.path.join(folder, filename), feed, threads))
        outputs = [r.call() for r in group]  # the warm-up call of each, not timed
        worst = max(float(np.abs(out - outputs[0]).max()) for out in outputs[1:])
        agreement.append(f"{source} {graph}: largest difference between the runtimes' outputs {worst:.1e}")
        runners += group
    return runners, agreement


def measure(runners: list[Runner], repeats: int) -> None:
    for _ in range(repeats):
        for runner in runners:
            start = time.perf_counter()
            runner.call()
            runner.times.append(time.perf_counter() - start)


def report(runners: list[Runner], size: int) -> str:
    megapixels = size * size / 1e6
    lines = [f"{'model':<10} {'graph':<10} {'runtime (layout)':<25} {'median s':>9} {'best s':>8} {'MP/s':>7}"]
    for r in runners:
        median = statistics.median(r.times)
        lines.append(f"{r.model:<10} {r.graph:<10} {r.runtime:<25} {median:>9.3f} {min(r.times):>8.3f} "
                     f"{megapixels / median:>7.2f}")
    lines.append("")
    for key in dict.fromkeys((r.model, r.graph) for r in runners):
        group = [r for r in runners if (r.model, r.graph) == key]
        torch_best = min((r for r in group if r.runtime.startswith("pytorch")), key=lambda r: statistics.median(r.times))
        ort = next(r for r in group if r.runtime.startswith("onnxruntime"))
        ratio = statistics.median(torch_best.times) / statistics.median(ort.times)
        verdict = "faster" if ratio > 1 else "slower"
        lines.append(f"{key[0]} {key[1]}: onnxruntime takes {1 / ratio:.2f}x the time of {torch_best.runtime} "
                     f"({verdict}; medians)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import onnxruntime

    parser = argparse.ArgumentParser(prog="python -m tools.onnx_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="shipped name or folder (repeatable; default gaussian and photo)")
    parser.add_argument("--size", type=int, default=1024, help="side of the square RGB image (default %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both runtimes (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds after the warm-up (default %(default)s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"RGB {args.size}x{args.size}, {args.threads} threads, {args.repeats} interleaved rounds after one warm-up")
    print(f"CPU: {cpu} ({os.cpu_count()} logical); torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    runners, agreement = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index, source in enumerate(args.model or ["gaussian", "photo"]):
            more, lines = runners_for(source, args.size, args.threads, os.path.join(tmp, str(index)))
            runners += more
            agreement += lines
        measure(runners, args.repeats)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print(report(runners, args.size))
    print("\n".join(agreement))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
