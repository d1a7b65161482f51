"""`python -m benchmarks`: report (measure a model, write results.json and its card), benchmark
(speed against DnCNN and any peer, a 12 MP photo's time and memory), evaluate (the core's
`denoiser evaluate` with other groups' models beside ours). Errors print one `error:` line, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from denoiser import cli as core_cli
from denoiser.cli import CLIError
from denoiser.hub import DEFAULT_MODEL, SHIPPED_DIR, SHIPPED_MODELS, ModelLoadError, load_model, shipped_folder
from denoiser.io import ImageReadError
from denoiser.model import macs_per_pixel

from .benchmark import format_benchmark, measure_throughput, photo_in_fresh_process
from .peers import load_peer
from .report import remeasure_speed, write_cards, write_report
from .recorder import ReportInputs
from .report_training import training_commands_block, write_readme_block

PEER_HELP = "another group's trained model, e.g. ffdnet=../shared/peers/ffdnet_color.safetensors (repeatable; never shipped)"


def cmd_benchmark(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    peers = [load_peer(spec) for spec in args.peer or []]  # load first: a bad path fails before any work
    model = load_model(args.model)
    result = {"model": model.name, "macs_per_pixel": macs_per_pixel(model), **measure_throughput(model, args.size, peers=peers)}
    if not args.skip_photo:
        result["photo"] = photo_in_fresh_process(args.model)
    print(format_benchmark(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    model = args.model or DEFAULT_MODEL
    if args.weights_dir:
        weights_dir = Path(args.weights_dir)
    elif shipped_folder(model) is not None:  # a shipped model, or a reference one (seed, seed-paper)
        weights_dir = shipped_folder(model)
    else:
        raise CLIError("give --weights-dir for a model that is not shipped (results.json and the card go there)")
    repo_id = args.repo_id or f"denoiser-project/denoiser-{Path(model).name}"
    cards = [Path(p) for p in args.card] if args.card else [weights_dir / "README.md"]
    if args.readme:  # the commands that trained each shipped model, from their train_config.json
        write_readme_block(Path(args.readme), training_commands_block({n: SHIPPED_DIR / n for n in SHIPPED_MODELS}))
        print(f"wrote the training commands into {args.readme}")
    if args.render_only:  # re-render the cards from the results.json already there; measures nothing
        results_path = weights_dir / "results.json"
        if not results_path.is_file():
            raise CLIError(f"{results_path}: missing; run the report without --render-only first")
        write_cards(json.loads(results_path.read_text()), weights_dir, cards, repo_id)
        print("wrote " + ", ".join(str(p) for p in cards))
        return 0
    data = Path(args.data or os.environ.get("DENOISER_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not data.is_dir():
        raise CLIError(f"{data}: data folder not found (pass --data or set DENOISER_DATA)")
    inputs = ReportInputs(model, data, tuple(args.seed_model or ()), tuple(args.compare or ()), args.limit,
                          tuple(args.peer or ()), tuple(args.adapted or ()))
    written = ", ".join(str(p) for p in [weights_dir / "results.json", *cards])
    if args.speed_only:
        remeasure_speed(inputs, weights_dir, cards, repo_id)
        print("re-timed the speed section; wrote " + written)
        return 0
    write_report(inputs, weights_dir, cards, repo_id)
    print("wrote " + written)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`denoiser evaluate` with the peers loaded first (a bad path fails before any work) and scored
    on the same noisy inputs; the rest of the command line is the core's evaluate options."""
    peers = [load_peer(spec) for spec in args.peer or []]
    core_args = core_cli.build_parser(args.prog).parse_args(["evaluate", *args.core_options])
    core_args.peers = peers
    return core_cli.cmd_evaluate(core_args)


def build_parser(prog: str = "python -m benchmarks") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Benchmarks and model cards (run from a clone).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="evaluate a model on every benchmark and write its model card")
    p.add_argument("--model", default=None, help="shipped name, local folder or Hub repo id (default: the photo model)")
    p.add_argument("--render-only", action="store_true", help="only re-render the card(s) from the results.json already there")
    p.add_argument("--speed-only", action="store_true",
                   help="re-time only the speed section (with any --peer) into the results.json already there")
    p.add_argument("--readme", help="also write the shipped models' training commands between this README's markers")
    p.add_argument("--weights-dir", help="where results.json goes (default: the shipped model's folder)")
    p.add_argument("--data", default=None, help="data sets folder (default: $DENOISER_DATA or ../shared/data)")
    p.add_argument("--card", action="append", help="write the model card here (repeatable; default WEIGHTS/README.md)")
    p.add_argument("--seed-model", action="append", metavar="MODEL",
                   help="a trained seed-preset model to add as a row (repeatable), e.g. seed and seed-paper")
    p.add_argument("--peer", action="append", metavar="NAME=PATH",
                   help=PEER_HELP + "; run on the same noisy inputs and timed in the same run")
    p.add_argument("--compare", action="append", metavar="[LABEL=]MODEL",
                   help="another model to score beside it on the real-noise sets (repeatable): a folder, a Hub id or "
                        "NAME@REVISION, e.g. photo-v1=photo@09844cb (the shipped photo model at that git revision)")
    p.add_argument("--adapted", action="append", metavar="RUN",
                   help="a `denoiser adapt` run on SIDD12 or on PolyU's test split (repeatable): scored there as the "
                        "card's adapted protocol")
    p.add_argument("--repo-id", default=None, help="the Hub repo the card describes (default: denoiser-project/denoiser-NAME)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images per set (quick check)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("benchmark", help="speed (MP/s) against DnCNN and any peer, and a 12 MP photo's time and memory")
    p.add_argument("--model", default=None, help="shipped name, local folder or Hub repo id[@revision]")
    p.add_argument("--size", type=int, default=1024, help="side of the square RGB test image")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--skip-photo", action="store_true", help="skip the 12-megapixel run")
    p.add_argument("--peer", action="append", metavar="NAME=PATH", help=PEER_HELP + "; timed on the same image")
    p.add_argument("--json", help="write the results to this JSON file")
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("evaluate", help="`denoiser evaluate` (same options) with peers scored on the same noisy inputs")
    p.add_argument("--peer", action="append", metavar="NAME=PATH", help=PEER_HELP)
    p.set_defaults(func=cmd_evaluate, prog=prog)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m benchmarks") -> int:
    parser = build_parser(prog)
    args, core_options = parser.parse_known_args(argv)  # evaluate passes the rest on to the core's options
    if core_options and args.command != "evaluate":
        parser.error("unrecognized arguments: " + " ".join(core_options))
    args.core_options = core_options
    try:
        return args.func(args)
    except (CLIError, ImageReadError, ModelLoadError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
