"""How close synthetic noise comes to real phone noise: statistics of noisy - clean on SIDD12.

For each real pair, and for each synthetic kind applied to the same clean image (seeded), prints the
noise std (0-255), the chroma / luma std ratio (opponent colour), the correlation of horizontal
neighbours, and the share of the noise power spectrum above half the Nyquist frequency (white: 0.75).

    python -m tools.noise_stats [--data ../shared/data] [--kinds phone-fine phone raw color-gaussian]
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import torch

from denoiser.io import read_image
from denoiser_train.phone import _OPPONENT


def statistics(noise: torch.Tensor) -> dict[str, float]:
    """noise (3, H, W) in [0, 1] units -> std (0-255), chroma/luma, neighbour correlation, high-frequency share."""
    opp = torch.einsum("ij,jhw->ihw", _OPPONENT.to(noise), noise)
    luma, chroma = opp[0].std(), opp[1:].std()
    a, b = noise[..., :, :-1].flatten(), noise[..., :, 1:].flatten()
    spectrum = torch.fft.fft2(noise - noise.mean((-2, -1), keepdim=True)).abs().pow(2).sum(0)
    fy = torch.fft.fftfreq(noise.shape[-2]).abs()[:, None]
    fx = torch.fft.fftfreq(noise.shape[-1]).abs()[None, :]
    high = (torch.maximum(fy, fx) > 0.25).to(spectrum)
    return {"std": float(noise.std() * 255), "chroma/luma": float(chroma / luma),
            "neighbour r": float(torch.corrcoef(torch.stack([a, b]))[0, 1]),
            "high-freq share": float((spectrum * high).sum() / spectrum.sum())}


def main(argv: list[str] | None = None) -> None:
    from denoiser_train.data import NoiseSpec

    parser = argparse.ArgumentParser(prog="python -m tools.noise_stats", description=__doc__.splitlines()[0])
    default = os.environ.get("DENOISER_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", default=str(default))
    parser.add_argument("--kinds", nargs="+", default=["phone-fine", "phone", "raw", "color-gaussian"])
    args = parser.parse_args(argv)
    folder = Path(args.data) / "real" / "SIDD12"
    names = sorted(p.name for p in (folder / "gt").iterdir())
    rows: dict[str, list[dict[str, float]]] = {"real SIDD12": []}
    specs = {kind: NoiseSpec.parse(kind, Path(args.data) / "camera") for kind in args.kinds}
    for index, name in enumerate(names):
        clean = torch.from_numpy(read_image(folder / "gt" / name).astype(np.float32) / 255).permute(2, 0, 1)
        noisy = torch.from_numpy(read_image(folder / "noisy" / name).astype(np.float32) / 255).permute(2, 0, 1)
        rows["real SIDD12"].append(statistics(noisy - clean))
        for kind, spec in specs.items():
            rng = np.random.default_rng([7, index])
            model = spec.sample(rng)
            generated = model(clean, torch.Generator().manual_seed(index))
            rows.setdefault(kind, []).append(statistics(generated - clean))
    keys = list(rows["real SIDD12"][0])
    print(f"{'noise':<16}" + "".join(f"{k:>16}" for k in keys) + "   (median over the 12 SIDD12 images)")
    for label, values in rows.items():
        print(f"{label:<16}" + "".join(f"{np.median([v[k] for v in values]):>16.3f}" for k in keys))


if __name__ == "__main__":
    main()
