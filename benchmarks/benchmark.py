"""Speed and memory benchmark: our model against a DnCNN-architecture network and any peer, on the same CPU.

`python -m benchmarks benchmark` prints megapixels per second for RGB through `denoise()` (what a
user gets), then the forward pass of each network (ours, DnCNN: 17 conv layers, 64 channels, random
weights; each peer) on the same image, each in its fastest memory layout (`timing.time_network`),
and the ratios network to network; then it denoises a 12-megapixel (4000x3000) photo in a fresh
process to report its wall time and peak memory.
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

from .timing import best_of, time_network


def dncnn(channels: int = 3, depth: int = 17, width: int = 64) -> nn.Module:
    """DnCNN's architecture (Zhang et al. 2017) with random weights, for timing only (blind: it takes
    no noise level); `timing.time_network` picks its memory layout."""
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(width, channels, 3, padding=1))
    return nn.Sequential(*layers).eval()


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-looking uint8 RGB image of any size: scikit-image's astronaut, tiled, plus noise."""
    from skimage import data

    base = data.astronaut()
    reps = (-(-height // base.shape[0]), -(-width // base.shape[1]), 1)
    image = np.tile(base, reps)[:height, :width].astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, 25, image.shape).astype(np.float32)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def measure_throughput(model: nn.Module, size: int = 1024, repeats: int = 3, peers: list = ()) -> dict:
    """Speed on one size x size RGB photo, all in this process and its threads, warm-up excluded:
    mp_per_s: our model through `denoise()` as a user runs it (uint8 in and out, the noise level
    estimated; `denoise()` hands the network channels_last input);
    networks: the forward pass of ours, DnCNN and each peer on the same image, each in its fastest
    memory layout: {name: {"mp_per_s", "layout", "by_layout"}} (see `timing.time_network`);
    speedup_vs_dncnn and peers: network against network, fastest layout against fastest layout."""
    image = synthetic_photo(size, size)
    end_to_end = size * size / 1e6 / best_of(lambda: denoise(image, model), repeats)
    networks = {"ours": time_network(model, image, repeats),
                "DnCNN": time_network(dncnn(), image, max(1, repeats - 1))}  # the slow one: one pass fewer
    for peer in peers:  # straight after ours, on the same image: the machine's speed drifts between runs
        networks[peer.name] = time_network(peer, image, repeats)
    ours, baseline = networks["ours"], networks["DnCNN"]
    result = {"threads": torch.get_num_threads(), "size": size, "mp_per_s": end_to_end, "networks": networks,
              "dncnn_mp_per_s": baseline["mp_per_s"], "dncnn_size": size, "dncnn_layout": baseline["layout"],
              "speedup_vs_dncnn": ours["mp_per_s"] / baseline["mp_per_s"]}
    if peers:
        result["peers"] = {peer.name: networks[peer.name]["mp_per_s"] for peer in peers}
    return result


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
        f"threads: {result['threads']}; RGB {result['size']}x{result['size']}, the same image for every network",
        f"ours through denoise() (noise level estimated): {result['mp_per_s']:.3f} MP/s",
        "network forward passes, each in its fastest memory layout (both tried):",
    ]
    ours = result["networks"]["ours"]["mp_per_s"]
    for name, net in result["networks"].items():
        tried = ", ".join(f"{layout} {mp:.3f}" for layout, mp in net["by_layout"].items())
        ratio = "" if name == "ours" else f"; ours is {ours / net['mp_per_s']:.1f}x its speed"
        lines.append(f"  {name}: {net['mp_per_s']:.3f} MP/s in {net['layout']} (tried: {tried}){ratio}")
    if "photo" in result:
        p = result["photo"]
        lines.append(f"12 MP photo (4000x3000): {p['seconds']:.1f} s, peak memory {p['peak_memory_gb']:.2f} GB")
    return "\n".join(lines)
