"""Is pixel-shuffle downsampling (Zhou et al., AAAI 2020) worth adopting for our model? Measure it on
validation pairs before using it anywhere.

Runs one of our models plainly and with PD-Denoising's real-image procedure (stride 2: the 2x2 mosaic
of sub-images, then per phase the noisy pixels put back and denoised again; the mean of the four),
its noise level estimated on each pass's input, and prints mean PSNR and seconds for both.

    python -m tools.pixel_shuffle_check [--model photo] [--pairs ../shared/data/real/SIDD12] [--strength 1 0.5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.peers import PeerConfig, pixel_shuffle_denoise
from denoiser.evaluate import evaluate
from denoiser.hub import load_model
from denoiser.inference import denoise


class PixelShuffled(torch.nn.Module):
    """Our model behind PD-Denoising's stride-2 procedure; blind, like the peer. `strength` scales the
    level the model estimates on each pass (sub-images carry less correlated noise: it may need less)."""

    def __init__(self, model: torch.nn.Module, strength: float) -> None:
        super().__init__()
        self.model, self.strength = model, strength
        self.config = PeerConfig(arch="pd-ours", noise_map=False)
        self.name = f"{getattr(model, 'name', 'model')} + PD (strength {strength:g})"

    stride = 2

    def receptive_radius(self) -> int:
        return 3 * self.model.receptive_radius()

    def clean(self, x: torch.Tensor) -> torch.Tensor:
        image = x[0].permute(1, 2, 0).cpu().numpy()
        out = denoise(image, self.model, strength=self.strength, tile=None)
        return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)[None]

    def forward(self, noisy: torch.Tensor, sigma_map=None, noise_scale: float = 1.0) -> torch.Tensor:
        return pixel_shuffle_denoise(noisy, self.clean)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.pixel_shuffle_check", description=__doc__.splitlines()[0])
    default = Path(os.environ.get("DENOISER_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--model", default="photo")
    parser.add_argument("--pairs", default=str(default / "real" / "SIDD12"))
    parser.add_argument("--strength", type=float, nargs="+", default=[1.0, 0.75, 0.5])
    args = parser.parse_args(argv)
    model = load_model(args.model)
    methods = [model] + [PixelShuffled(model, s) for s in args.strength]
    for method in methods:
        start = time.perf_counter()
        [record] = evaluate(method, pairs=args.pairs)
        print(f"{record.method:<36} PSNR {record.psnr:.2f}  SSIM {record.ssim:.4f}  {time.perf_counter() - start:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
