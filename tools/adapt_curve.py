"""dB against minutes for `denoiser adapt` on a folder of real pairs: adapt on its noisy/ images only (the
references are never read while adapting), and after each budget score the adapted model on the pairs.

    python -m tools.adapt_curve ../shared/data/real/SIDD12 --minutes 0.5 2 5 10 --out /tmp/adapt-sidd --json curve.json

Budgets are cumulative: 0.5 2 5 means scoring after 0.5, 2 and 5 minutes of adapting in all (the run is
continued, as a user would by running the command again). The first row is the starting model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


MARKERS = ("<!-- adapt-curve:start -->", "<!-- adapt-curve:end -->")


def score(model_source: str, pairs: Path, split: str = "all") -> tuple[float, float]:
    """Mean RGB PSNR / SSIM of a model (anything --from takes) on a pairs folder, blind (the model's own level)."""
    from denoiser.evaluate import evaluate

    from denoiser_train.init_sources import load_source

    records = evaluate(load_source(model_source)[0], pairs=pairs, dataset=pairs.name, split=split)
    return records[0].psnr, records[0].ssim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.adapt_curve", description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path, help="a folder with noisy/ and gt/")
    parser.add_argument("--minutes", type=float, nargs="+", default=[0.5, 2, 5, 10], help="cumulative budgets")
    parser.add_argument("--out", type=Path, required=True, help="the adapt run folder (continued if it exists)")
    parser.add_argument("--from", dest="source", default="photo", help="the model adapted")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10**6, help="the adapt run's length (default: until the budgets)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--readme", type=Path, help="write the table, and this command, between this file's "
                                                    f"{MARKERS[0]} ... {MARKERS[1]} markers")
    parser.add_argument("--split", choices=("all", "train", "test"), default="all",
                        help="adapt on, and score, this part of the pairs' standard scene split")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="replace one of adapt's settings (a TrainConfig field, e.g. lr=3e-6) for a new run")
    args = parser.parse_args(argv)

    from denoiser_train.adapt import adapt
    from denoiser_train.config import TrainConfig

    overrides = {}
    for item in args.set:
        field, _, value = item.partition("=")
        overrides[field.replace("-", "_")] = type(getattr(TrainConfig(), field.replace("-", "_")))(value)

    rows = [{"minutes": 0.0, "steps": 0, **dict(zip(("psnr", "ssim"), score(args.source, args.pairs, args.split)))}]
    print(rows[-1], flush=True)
    done = 0.0
    for budget in sorted(args.minutes):
        start = time.perf_counter()
        model_dir = adapt(args.pairs, args.out, minutes=budget - done, source=args.source, threads=args.threads,
                          split=args.split, steps=args.steps,
                          **overrides)
        done = budget
        steps = json.loads((args.out / "log.json").read_text())[-1]["step"]
        psnr, ssim = score(str(model_dir), args.pairs, args.split)
        rows.append({"minutes": budget, "steps": steps, "psnr": psnr, "ssim": ssim,
                     "wall_minutes": round((time.perf_counter() - start) / 60, 2)})
        keep_rows(rows, args.json)
    publish_table(render_table(rows, args.pairs.name, argv if argv is not None else sys.argv[1:]), args.readme, MARKERS)
    return 0


def keep_rows(rows: list[dict], json_path: Path | None) -> None:
    """Print the newest row and rewrite the JSON with every row so far (a long measurement keeps what it has)."""
    print(rows[-1], flush=True)
    if json_path:
        json_path.write_text(json.dumps(rows, indent=1) + "\n")


def publish_table(table: str, readme: Path | None, markers: tuple[str, str]) -> None:
    """Print the table and, given a README, write it between its markers."""
    print(table)
    if readme:
        from benchmarks.report_training import write_readme_block

        write_readme_block(readme, table, markers)


def render_table(rows: list[dict], dataset: str, argv: list[str]) -> str:
    """The markdown table of a curve, with the command that measured it and the machine it ran on."""
    import platform

    import torch

    lines = [f"Measured by `python -m tools.adapt_curve {' '.join(argv)}` ({platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} torch threads; mean RGB PSNR / SSIM on {dataset}, adapted on its noisy images only):",
             "", "| minutes adapting | steps | PSNR | SSIM |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['minutes']:g} | {row['steps']} | {row['psnr']:.2f} | {row['ssim']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
