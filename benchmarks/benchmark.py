"""Speed and memory benchmark: our model against a DnCNN-architecture network on the same CPU.

`python -m benchmarks benchmark` prints megapixels per second for RGB through `denoise()`, the
same for DnCNN (17 conv layers, 64 channels, random weights) and their ratio, then denoises a
12-megapixel (4000x3000) photo in a fresh process to report its wall time and peak memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from denoiser.hub import load_model
from denoiser.inference import denoise


def dncnn(channels: int = 3, depth: int = 17, width: int = 64, channels_last: bool = False) -> nn.Module:
    """DnCNN's architecture (Zhang et al. 2017) with random weights, for timing only; NCHW (the
    reference layout) unless `channels_last`."""
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(width, channels, 3, padding=1))
    net = nn.Sequential(*layers).eval()
    return net.to(memory_format=torch.channels_last) if channels_last else net


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-looking uint8 RGB image of any size: scikit-image's astronaut, tiled, plus noise."""
    from skimage import data

    base = data.astronaut()
    reps = (-(-height // base.shape[0]), -(-width // base.shape[1]), 1)
    image = np.tile(base, reps)[:height, :width].astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, 25, image.shape).astype(np.float32)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _best_of(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_throughput(model: nn.Module, size: int = 1024, repeats: int = 3) -> dict:
    """MP/s of `denoise()` with our model on a size x size RGB photo (uint8 in and out, the noise
    level estimated as a user would run it), and of a DnCNN forward pass on the same size in the
    same process and threads (NCHW, its reference layout). Ours includes everything around the
    network, so the ratio is, if anything, unfair to us."""
    image = synthetic_photo(size, size)
    ours = size * size / 1e6 / _best_of(lambda: denoise(image, model), repeats)
    baseline = dncnn()
    x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    with torch.inference_mode():
        theirs = size * size / 1e6 / _best_of(lambda: baseline(x), max(1, repeats - 1))
    return {"threads": torch.get_num_threads(), "size": size, "mp_per_s": ours, "dncnn_mp_per_s": theirs,
            "dncnn_size": size, "dncnn_layout": "NCHW", "speedup_vs_dncnn": ours / theirs}


def peer_throughput(peer: nn.Module, size: int = 1024, repeats: int = 3) -> float:
    """MP/s of `denoise()` with a peer model (given sigma 25, so it pays for no estimate) on the same
    synthetic photo `measure_throughput` uses."""
    image = synthetic_photo(size, size)
    return size * size / 1e6 / _best_of(lambda: denoise(image, peer, sigma=25), repeats)


def photo_run(source: str | None, height: int = 3000, width: int = 4000) -> dict:
    """Denoise one height x width photo in this process; returns seconds and peak resident memory."""
    model = load_model(source)
    image = synthetic_photo(height, width)
    start = time.perf_counter()
    out = denoise(image, model)  # as a user runs it: the noise level estimated
    seconds = time.perf_counter() - start
    assert out.shape == image.shape
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes
    return {"megapixels": height * width / 1e6, "seconds": seconds, "peak_memory_gb": peak_kb / 1024**2}


def photo_in_fresh_process(source: str | None) -> dict:
    """photo_run in a new Python process, so its peak memory is not inflated by this one's."""
    code = "import json,sys; from benchmarks.benchmark import photo_run; print(json.dumps(photo_run(sys.argv[1] or None)))"
    root = str(Path(__file__).resolve().parents[1])  # benchmarks/ is not installed: import it from the clone
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code, source or ""], capture_output=True, text=True, check=False,
                            env=env)
    if result.returncode != 0:
        raise RuntimeError(f"the 12-megapixel run failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def format_benchmark(result: dict) -> str:
    lines = [
        f"model: {result['model']} ({result['macs_per_pixel'] / 1e3:.1f} k multiply-adds per pixel)",
        f"threads: {result['threads']}",
        f"ours:   {result['mp_per_s']:.3f} MP/s (RGB {result['size']}x{result['size']} through denoise())",
        f"DnCNN:  {result['dncnn_mp_per_s']:.3f} MP/s (17x64, random weights, {result['dncnn_layout']}, same size)",
        f"ratio:  {result['speedup_vs_dncnn']:.1f}x",
    ]
    for name, mp_per_s in result.get("peers", {}).items():
        lines.append(f"{name}: {mp_per_s:.3f} MP/s (through denoise(), same image); ours is "
                     f"{result['mp_per_s'] / mp_per_s:.1f}x its speed")
    if "photo" in result:
        p = result["photo"]
        lines.append(f"12 MP photo (4000x3000): {p['seconds']:.1f} s, peak memory {p['peak_memory_gb']:.2f} GB")
    return "\n".join(lines)
