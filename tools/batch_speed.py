"""Batch throughput: `denoiser denoise FOLDER -o OUT` in images/s, for the local engine and for Ray
Data with 1 and 2 model actors, on the same photos, in one run (the README's "Many photos" table).

    python -m tools.batch_speed [--count 48] [--size 256] [--model photo] [--workers 1 2]

The photos are crops of scikit-image's sample images with Gaussian noise (σ 15), written as 8-bit
PNG into a temporary folder; each engine writes into a fresh output folder, so nothing is skipped.
Seconds are the command's wall time from planning to the last output, loading the model (and
starting the actors: importing torch in each) included; "first" is when the first output
landed. The local Ray itself is started before the clock. The local engine runs once per
--local-threads value (torch's intra-op threads in that process).
A machine shared with other work shows it in the load average printed with the table.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def photos(folder: Path, count: int, size: int, seed: int = 0) -> None:
    from skimage import data

    from denoiser.io import write_image

    rng = np.random.default_rng(seed)
    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    for index in range(count):
        image = sources[index % len(sources)]
        y, x = (int(rng.integers(0, image.shape[i] - size + 1)) for i in (0, 1))
        clean = image[y:y + size, x:x + size].astype(np.float64)
        write_image(folder / f"photo{index:03d}.png", np.clip(np.rint(clean + rng.normal(0, 15, clean.shape)), 0, 255)
                    .astype(np.uint8))


class Arrivals(io.StringIO):
    """Stands in for stdout: notes when each photo's line (printed as its output lands) arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def write(self, text: str) -> int:
        if " -> " in text:
            self.times.append(time.perf_counter())
        return len(text)


def timed(request) -> tuple[float, float, float]:
    """(seconds for the whole command, seconds until the first output landed, images/s overall)."""
    from denoiser.batch import run

    arrivals = Arrivals()
    start = time.perf_counter()
    summary = run(request, stdout=arrivals)
    seconds = time.perf_counter() - start
    if summary.failed or summary.done < 2:
        raise SystemExit(f"done {summary.done}, failed: {summary.failed[:3]}")
    return seconds, arrivals.times[0] - start, summary.done / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.batch_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=48, help="photos (default %(default)s)")
    parser.add_argument("--size", type=int, default=256, help="their side in pixels (default %(default)s)")
    parser.add_argument("--model", default="photo", help="model to run (default %(default)s)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray actor counts (default 1 2)")
    parser.add_argument("--local-threads", type=int, nargs="+", default=[2, 1],
                        help="torch threads for the local engine's runs (default 2 1)")
    args = parser.parse_args(argv)

    import ray
    import torch

    from denoiser.batch import Request
    from denoiser.batch_work import Settings

    with tempfile.TemporaryDirectory(prefix="batch-speed-") as scratch:
        folder = Path(scratch)
        photos(folder / "in", args.count, args.size)
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        rows = []
        default_threads = torch.get_num_threads()
        configs = [("local", None, t, f"1 process, torch {t} thread{'s' if t > 1 else ''}") for t in args.local_threads]
        configs += [("ray", n, None, f"{n} actor{'s' if n > 1 else ''}, torch 1 thread each") for n in args.workers]
        for engine, workers, threads, label in configs:
            torch.set_num_threads(threads or default_threads)
            request = Request([str(folder / "in")], str(folder / f"out-{engine}-{workers}-{threads}"), Settings(),
                              model=args.model, engine=engine, workers=workers)
            rows.append((engine, label, *timed(request)))
        torch.set_num_threads(default_threads)
        ray.shutdown()

    print(f"batch throughput: {args.count} photos of {args.size}x{args.size} (8-bit RGB PNG, σ 15 noise), model "
          f"{args.model}, noise level estimated; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'engine':<7} {'workers':<30} {'seconds':>8} {'first':>6} {'images/s':>9}")
    for engine, label, seconds, first, rate in rows:
        print(f"{engine:<7} {label:<30} {seconds:>8.1f} {first:>6.1f} {rate:>9.2f}")


if __name__ == "__main__":
    main()
