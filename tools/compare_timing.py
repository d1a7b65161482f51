"""The Compare tab's time against one Denoise of the same photo, measured in one run.

    python -m tools.compare_timing                 # a seeded 512x512 noisy photo, the shipped models
    python -m tools.compare_timing --photo IMG.jpg --repeat 3

Both go through the app's service as a click runs them (reading, the noise estimate, writing the
results): first a Denoise with the photo model, then a Compare of every loaded model beside the
classical methods. It prints both times, their ratio (issue 29 asks for Compare <= 1.5x a
Denoise) and each method's share of the Compare. --repeat takes the median of N runs each, which
a busy machine needs; each run is on a fresh copy of the photo, so no cached decode or estimate
is reused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as app.py runs the app: set before numpy loads

import numpy as np  # noqa: E402 - after the BLAS setting


def make_photo(folder: Path, side: int = 512) -> Path:
    """A seeded side x side noisy PNG: scikit-image's astronaut (a face, fabric, flat sky) with σ 15 noise."""
    import skimage.data

    from denoiser.io import write_image

    clean = skimage.data.astronaut()[:side, :side].astype(np.float32)
    noisy = clean + np.random.default_rng(0).normal(0, 15, clean.shape).astype(np.float32)
    path = folder / f"astronaut-{side}.png"
    write_image(path, np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compare_timing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", help="the photo to time (default: a seeded 512x512 noisy PNG made here)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median is printed (default 1)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    from denoiser_app import Settings, build_demo
    from denoiser_app import compare as compare_mod
    from denoiser_app.models import load_models

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="compare-timing-"))
    photo = Path(args.photo) if args.photo else make_photo(work)
    demo = build_demo(load_models(None, "cpu"), settings=Settings.from_env())  # DENOISER_COMPARE_MAX_PIXELS applies
    service = demo.service
    denoise_s, compare_s, per_method = [], [], {}
    try:
        service.denoise(str(photo))  # warm-up: first-call costs belong to neither side
        for i in range(max(1, args.repeat)):
            for label, times in (("denoise", denoise_s), ("compare", compare_s)):
                fresh = work / f"{label}-{i}{photo.suffix}"  # nothing cached for this path yet
                fresh.write_bytes(photo.read_bytes())
                start = time.perf_counter()
                if label == "denoise":
                    service.denoise(str(fresh))
                else:
                    result = compare_mod.compare(service, str(fresh))
                    for row in result.rows[1:]:
                        per_method.setdefault(row[0], []).append(row[-1])
                times.append(time.perf_counter() - start)
    finally:
        demo.close()

    d, c = statistics.median(denoise_s), statistics.median(compare_s)
    height, width = service.read(str(photo)).shape[:2]
    load = os.getloadavg()[0]
    print(f"{width}x{height} {photo.name}; models {', '.join(service.models.names())}; "
          f"{torch.get_num_threads()} torch threads, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"median of {len(denoise_s)}; load average {load:.1f}")
    print(f"{'Denoise (photo model)':<34} {d:7.2f} s")
    print(f"{'Compare (every method)':<34} {c:7.2f} s   {c / d:.2f}x a Denoise")
    for name, values in per_method.items():
        print(f"{'  ' + str(name):<34} {statistics.median(values):7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
