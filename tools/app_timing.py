"""Where a 12 MP photo's time goes in the web app, against `denoise()` alone.

    python -m tools.app_timing                    # a seeded 4000x3000 noisy JPEG, the photo model
    python -m tools.app_timing --photo IMG.HEIC --model gaussian --threads 2

It times the library's `denoise()` on the decoded photo (what the model card's 12 MP figure
measures), then the app's two waits as the service runs them: the upload check (decoding, the
noise estimate, a PNG copy for formats a browser cannot show) and the Denoise click (its steps as
PhotoResult.timings records them: reading, measuring the noise, denoising, saving the download,
the previews), plus gradio copying the returned files into its cache. The overhead is upload +
click over `denoise()`; on a busy machine the model's own time varies by more than the app adds,
so the app's own work (everything but measuring the noise once and denoising) is printed too.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def make_photo(folder: Path, width: int = 4000, height: int = 3000) -> Path:
    """A seeded noisy photo-like JPEG (scikit-image's coffee, enlarged, with σ 8 noise), quality 92."""
    import cv2
    import skimage.data
    from PIL import Image

    base = cv2.resize(skimage.data.coffee(), (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    noisy = base + np.random.default_rng(0).normal(0, 8, base.shape).astype(np.float32)
    path = folder / "photo-12mp.jpg"
    Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def seconds(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.app_timing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", help="the photo to time (default: a seeded 12 MP JPEG made here)")
    parser.add_argument("--model", default="photo", help="shipped name or folder (default photo)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch
    from gradio import processing_utils

    from denoiser.hub import load_model
    from denoiser.inference import denoise
    from denoiser.io import read_image
    from denoiser_app import Settings, build_demo

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="app-timing-"))
    photo = Path(args.photo) if args.photo else make_photo(work)
    model = load_model(args.model, device="cpu")
    demo = build_demo({args.model: model}, settings=Settings())
    service = demo.service
    try:
        array = read_image(photo)
        denoise(array[:256, :256], model)  # warm-up: first-call costs belong to neither side
        _, library = seconds(lambda: denoise(array, model))

        fresh = work / f"upload{photo.suffix}"  # a path the app has not seen: nothing cached yet
        fresh.write_bytes(photo.read_bytes())
        _, decoding = seconds(lambda: service.read_with_metadata(str(fresh)))
        _, estimating = seconds(lambda: service.estimate(str(fresh), args.model, service.read(str(fresh))))
        _, checking = seconds(lambda: service.inspect(str(fresh), args.model))
        result, _ = seconds(lambda: service.denoise(str(fresh), model=args.model))
        views = service.views(result)
        cache = tempfile.mkdtemp(dir=work)
        _, copying = seconds(lambda: [processing_utils.save_file_to_cache(p, cache)
                                      for p in (result.path, views.before, views.after, views.residual)])
    finally:
        demo.close()

    upload = decoding + estimating + checking
    click = result.waited + copying
    height, width = array.shape[:2]
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP) {photo.name}, model {args.model}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'denoise() in the library':<34} {library:7.2f} s")
    print(f"{'upload check':<34} {upload:7.2f} s")
    print(f"{'  decoding':<34} {decoding:7.2f} s")
    print(f"{'  measuring the noise':<34} {estimating:7.2f} s")
    print(f"{'  the rest (a copy to show, a note)':<34} {checking:7.2f} s")
    print(f"{'Denoise click':<34} {click:7.2f} s")
    for step, value in [*result.timings.items(), ("gradio's file cache", copying)]:
        print(f"{'  ' + step:<34} {value:7.2f} s")
    total = upload + click
    own = total - estimating - result.timings["denoising"]  # what denoise() does not do
    print(f"{'upload + click':<34} {total:7.2f} s: {100 * (total / library - 1):+.0f} % over denoise()")
    label = "the app's own work"
    print(f"{label:<34} {own:7.2f} s: {100 * own / library:.0f} % of denoise()")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
