"""What `denoise PHOTO --adapt` is worth: each noisy photo of a pairs folder is adapted to alone (its noise measured
on itself, put on its own denoised version, the way the CLI and the app do it), denoised with the result, and
scored against its reference, which only the scoring reads. Beside it, the model without adapting.

    python -m tools.photo_adapt_score ../shared/data/real/SIDD12 --minutes 2 --json runs/photo-adapt-sidd12.json

Rows are written to --json as they come (a long run can be read half-way); --readme puts the table and this
command between the README's photo-adapt markers.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

from tools.adapt_curve import keep_rows, publish_table

MARKERS = ("<!-- photo-adapt:start -->", "<!-- photo-adapt:end -->")


def score_photo(noisy_path: Path, clean_path: Path, source: str, minutes: float, threads: int) -> dict:
    """One photo: PSNR / SSIM of the model before and after adapting to that photo alone."""
    from denoiser.hub import load_model
    from denoiser.inference import denoise
    from denoiser.io import read_image
    from denoiser.metrics import psnr, ssim
    from denoiser_train.photo_adapt import adapt_to_photo

    noisy, clean = read_image(noisy_path)[..., :3], read_image(clean_path)[..., :3]
    before = denoise(noisy, load_model(source).eval())
    steps = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="photo-adapt-score-") as scratch:
        weights = adapt_to_photo(noisy, scratch, minutes=minutes, source=source, threads=threads,
                                 on_step=lambda step, total: steps.append(step))
        after = denoise(noisy, load_model(str(weights)).eval())
    seconds = time.perf_counter() - start
    return {"photo": noisy_path.name, "megapixels": round(noisy.shape[0] * noisy.shape[1] / 1e6, 3),
            "steps": steps[-1] if steps else 0, "minutes": round(seconds / 60, 2),
            "psnr_before": psnr(clean, before), "ssim_before": ssim(clean, before),
            "psnr_after": psnr(clean, after), "ssim_after": ssim(clean, after)}


def render_table(rows: list[dict], dataset: str, argv: list[str]) -> str:
    import torch

    n = len(rows)
    keys = ("psnr_before", "ssim_before", "psnr_after", "ssim_after", "minutes")
    mean = {k: sum(r[k] for r in rows) / n for k in keys}
    gained = sum(r["psnr_after"] > r["psnr_before"] for r in rows)
    machine = platform.processor() or platform.machine()
    lines = [f"Measured by `python -m tools.photo_adapt_score {' '.join(argv)}` ({machine}, "
             f"{torch.get_num_threads()} torch threads; each photo adapted to alone, then scored against its reference):",
             "", "| photo | MP | steps | minutes | PSNR before | PSNR adapted | SSIM before | SSIM adapted |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['photo']} | {r['megapixels']:.2f} | {r['steps']} | {r['minutes']:.1f} | {r['psnr_before']:.2f} "
                     f"| {r['psnr_after']:.2f} | {r['ssim_before']:.4f} | {r['ssim_after']:.4f} |")
    lines.append(f"| **mean of {n}** | | | {mean['minutes']:.1f} | **{mean['psnr_before']:.2f}** | "
                 f"**{mean['psnr_after']:.2f}** | {mean['ssim_before']:.4f} | {mean['ssim_after']:.4f} |")
    lines += ["", f"Adapting raised PSNR on {gained} of {n} {dataset} photos, by "
                  f"{mean['psnr_after'] - mean['psnr_before']:+.2f} dB on average."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.photo_adapt_score", description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path, help="a folder with noisy/ and gt/")
    parser.add_argument("--minutes", type=float, default=5.0, help="the adapting budget per photo")
    parser.add_argument("--from", dest="source", default="photo", help="the model adapted")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="the first N photos only")
    parser.add_argument("--json", type=Path, help="write the rows here, one more after each photo")
    parser.add_argument("--readme", type=Path, help=f"write the table between this file's {MARKERS[0]} markers")
    args = parser.parse_args(argv)
    from denoiser.splits import pair_paths

    pairs = pair_paths(args.pairs, "all")
    rows = []
    for noisy_path, clean_path in pairs[: args.limit or None]:
        rows.append(score_photo(noisy_path, clean_path, args.source, args.minutes, args.threads))
        keep_rows(rows, args.json)
    publish_table(render_table(rows, args.pairs.name, argv if argv is not None else sys.argv[1:]), args.readme, MARKERS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
