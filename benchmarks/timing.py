"""Timing a network fairly: each one in its fastest memory layout on this machine.

A convolution's speed on CPU depends on the memory layout of its input and weights: oneDNN may be
faster in channels_last, or in NCHW, depending on the network's shapes and the CPU. So every network
(ours, DnCNN, each peer) is timed in both, on the same image in the same process and threads, the
warm-up pass excluded, and keeps the faster; the layout is recorded beside the speed.
"""

from __future__ import annotations

import copy
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

LAYOUTS = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}
GIVEN_SIGMA = 25  # the level (0-255) given to a network that takes one and does not estimate it


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls of `fn`, in seconds, after one warm-up call (allocator, oneDNN
    primitive cache) that is not counted."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def takes_sigma(net: nn.Module) -> bool:
    """Whether the network is given σ: it takes a noise map and has no estimator of its own (FFDNet,
    the gaussian model). Blind networks (DnCNN, PD-Denoising, seed) and the photo model, which
    estimates the level itself as a user runs it, are given nothing."""
    config = getattr(net, "config", None)
    return bool(config is not None and config.noise_map and not getattr(config, "estimator", False))


def time_network(net: nn.Module, image: np.ndarray, repeats: int = 3) -> dict:
    """MP/s of `net`'s forward pass on `image` (H, W, 3) uint8, as (1, 3, H, W) float in [0, 1], in
    each memory layout (weights and input alike; `net` itself is left as it was). Returns
    {"mp_per_s" (the faster), "layout" (its name), "by_layout": {name: MP/s}}."""
    height, width = image.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / 255)[None]
    sigma = torch.full((1, 1, 1, 1), GIVEN_SIGMA / 255) if takes_sigma(net) else None
    by_layout = {}
    for name, layout in LAYOUTS.items():
        copied = copy.deepcopy(net).eval().to(memory_format=layout)
        xi = x.contiguous(memory_format=layout)
        with torch.inference_mode():
            run = (lambda: copied(xi, sigma)) if sigma is not None else (lambda: copied(xi))
            by_layout[name] = height * width / 1e6 / best_of(run, repeats)
        del copied
    fastest = max(by_layout, key=by_layout.get)
    return {"mp_per_s": by_layout[fastest], "layout": fastest, "by_layout": by_layout}
