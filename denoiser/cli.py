"""`denoiser` (or `python -m denoiser`): denoise, evaluate, add-noise, estimate, export-onnx. (The model cards, the speed
benchmark and the peer comparisons are `python -m benchmarks` in a clone: not part of the installed library.)

Errors the user can fix (a bad file, a bad option, missing weights) print one `error:` line
and exit with status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from . import io as image_io
from .cli_adapt import adapt_to_photo, add_adapt_command
from .cli_progress import Stages

NOISE_PARAMS = {  # CLI option -> (noise kind, parameter)
    "gaussian": ["sigma"],
    "poisson": ["peak"],
    "salt-pepper": ["amount"],
    "nlf": ["beta1", "beta2"],
    "mask": ["fraction"],
}


class CLIError(Exception):
    """A problem with the user's request, reported as one line."""


def _collect_inputs(inputs: list[str]) -> list[Path]:
    """Image files given, and those under the folders given: walked recursively, hidden files and
    folders skipped, as `denoise FOLDER` walks them (the same walker)."""
    from .storage import LocalStorage

    paths = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [path / entry.rel for entry in LocalStorage().walk(str(path))
                     if entry.rel.lower().endswith(image_io.READ_SUFFIXES)]
            if not found:
                raise CLIError(f"{path}: no images in this folder")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise CLIError(f"{path}: no such file or folder")
    return paths


def _check_quality(quality: int) -> int:
    if not 1 <= quality <= 100:
        raise CLIError(f"--quality must be 1-100, got {quality}")
    return quality


def cmd_denoise(args: argparse.Namespace) -> int:
    """One photo, or a whole library: denoiser.batch plans, skips what is done, runs an engine."""
    from .batch import Request  # torch-free: the plan's errors (a missing file, an unwritable OUT) come first
    from .batch_work import Settings

    if not args.inputs and not args.from_list:
        raise CLIError("name images or folders to denoise (IN), or --from-list FILE")
    sigma, strength = args.sigma, args.strength
    if sigma is not None or strength != 1.0:  # the checks live with torch in inference: only for given values
        from .inference import check_sigma, check_strength

        sigma = None if sigma is None else check_sigma(sigma)
        strength = check_strength(strength)
    settings = Settings(sigma=sigma, strength=strength, ensemble=args.ensemble, tile=args.tile,
                        format=args.format, quality=_check_quality(args.quality), strip_metadata=args.strip_metadata)
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    request = Request(inputs=args.inputs, output=args.output, settings=settings, lists=args.from_list or [],
                      glob=args.glob, model=args.model, runtime=args.runtime, overwrite=args.overwrite,
                      engine=args.engine, address=args.address, workers=args.workers)
    if not args.adapt:
        if args.minutes is not None or args.clean:
            raise CLIError("--minutes and --clean go with --adapt")
        return _run_denoise(request)
    with tempfile.TemporaryDirectory(prefix="denoiser-adapt-") as scratch:
        return _run_denoise(dataclasses.replace(request, model=adapt_to_photo(args, Path(scratch))))


def _run_denoise(request) -> int:
    """Run a planned denoise request with the stage line and tile bar; 2 if any photo failed."""
    from .batch import run

    stages = Stages()
    try:
        stages.show("planning, loading the model, reading the first photo")
        summary = run(request, tile_bar=stages.tile_bar)
    finally:
        stages.close()
    if summary.done + summary.skipped + len(summary.failed) > 1:
        print(summary.lines()[0])
    for source, reason in summary.failed:
        print(f"error: {reason if source in reason else f'{source}: {reason}'}", file=sys.stderr)
    return 2 if summary.failed else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .evaluate import evaluate
    from .hub import load_model

    if (args.clean is None) == (args.pairs is None):
        raise CLIError("give --clean DIR (with --sigma) or --pairs DIR")
    methods = args.method or []
    peers = getattr(args, "peers", [])  # other groups' models, loaded by `python -m benchmarks evaluate --peer`
    models = args.model or ([] if methods else [None])
    records, ours = [], []
    for source in models:
        model = load_model(source)
        ours += _evaluate_one(evaluate, model, args, tqdm)
    records += ours
    for method in methods:
        records += _evaluate_one(evaluate, method, args, tqdm)
    theirs = [r for peer in peers for r in _evaluate_one(evaluate, peer, args, tqdm)]
    records += theirs
    print(format_table([r.summary() for r in records]))
    if theirs:
        print("\n" + format_differences([r.summary() for r in ours], [r.summary() for r in theirs]))
    if args.json:
        Path(args.json).write_text(json.dumps([r.summary() for r in records], indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _evaluate_one(evaluate, method, args, tqdm) -> list:
    label = method if isinstance(method, str) else getattr(method, "name", "model")
    bar = tqdm(desc=f"evaluating {label}", unit="image", leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return evaluate(method, clean=args.clean, sigmas=args.sigma, pairs=args.pairs, seed=args.seed,
                        limit=args.limit, blind=args.blind, split=args.split, progress=progress,
                        jpeg_quality=args.jpeg_quality)
    finally:
        bar.close()


def format_table(rows: list[dict]) -> str:
    """A plain-text table of evaluation records."""
    header = f"{'dataset':<12} {'sigma':>6} {'method':<24} {'n':>4} {'PSNR':>7} {'SSIM':>7} {'MP/s':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        sigma = "est." if r["sigma"] is None else f"{r['sigma']:g}"
        lines.append(f"{r['dataset']:<12} {sigma:>6} {r['method']:<24} {r['n']:>4} {r['psnr']:>7.2f} "
                     f"{r['ssim']:>7.4f} {r['mp_per_s']:>8.3f}")
    return "\n".join(lines)


def format_differences(ours: list[dict], theirs: list[dict]) -> str:
    """PSNR of each of our records minus the peer's on the same dataset and sigma (same noisy inputs)."""
    lines = [f"{'dataset':<12} {'sigma':>6} {'ours':<16} {'peer':<10} {'ΔPSNR':>7} {'speed ×':>8}"]
    for a in ours:
        for b in theirs:
            if (a["dataset"], a["sigma"]) == (b["dataset"], b["sigma"]):
                sigma = "est." if a["sigma"] is None else f"{a['sigma']:g}"
                lines.append(f"{a['dataset']:<12} {sigma:>6} {a['method']:<16} {b['method']:<10} "
                             f"{a['psnr'] - b['psnr']:>+7.2f} {a['mp_per_s'] / b['mp_per_s']:>8.1f}")
    return "\n".join(lines)


def cmd_add_noise(args: argparse.Namespace) -> int:
    import numpy as np

    from .noise import make_noise, make_noisy

    params = {name: getattr(args, name.replace("-", "_")) for name in NOISE_PARAMS[args.kind]}
    missing = [f"--{n}" for n, v in params.items() if v is None]
    if missing:
        raise CLIError(f"--kind {args.kind} needs {' '.join(missing)}")
    noise = make_noise(args.kind, **params)  # bad values fail before the image is read
    image = image_io.read_image(args.input)
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} exists; pass --overwrite")
    noisy = make_noisy(image, args.kind, params, args.seed)  # the app's synthetic tab runs the same function
    image_io.write_image(out, image_io.from_float(np.clip(noisy, 0, 1), image.dtype))
    print(f"{args.input} -> {out} ({noise})")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from .hub import load_model
    from .inference import estimate_noise
    from .noise import estimate_nlf, estimate_sigma

    model = load_model(args.model)
    failures = 0
    for path in _collect_inputs(args.inputs):
        try:
            image = image_io.read_image(path)
            values = image_io.to_float(image)
            colour = values[..., :3] if values.ndim == 3 and values.shape[2] in (3, 4) else values
            beta1, beta2 = estimate_nlf(colour)
            print(f"{path}: noise {estimate_noise(image, model).describe()} [{getattr(model, 'name', args.model)}]; "
                  f"white-noise σ {estimate_sigma(colour):.2f}; NLF beta1 {beta1:.3g}, beta2 {beta2:.3g} (0-255 scale for σ)")
        except (image_io.ImageReadError, ValueError) as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr)
    return 2 if failures else 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .hub import load_model
    from .onnx_export import export_onnx

    model = load_model(args.model)
    out = Path(args.output or f"{Path(args.model.split('@')[0].rstrip('/')).name}-onnx")  # owner/name@rev: name-onnx
    try:
        written = export_onnx(model, out)
    except ImportError as err:
        raise CLIError(str(err)) from None
    print(f"{model.name} -> " + ", ".join(str(p) for p in written))
    return 0


def build_parser(prog: str = "denoiser") -> argparse.ArgumentParser:
    """The parser; prog is how the user started us ('denoiser', or 'python -m denoiser' from __main__)."""
    parser = argparse.ArgumentParser(prog=prog, description="Image denoising autoencoder.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_denoise_command(sub)
    _add_evaluate_command(sub)
    _add_add_noise_command(sub)
    _add_estimate_command(sub)
    _add_export_onnx_command(sub)
    add_adapt_command(sub)
    return parser


def _add_denoise_command(sub: argparse._SubParsersAction) -> None:
    """The denoise command: files, folders and lists in; outputs, their format and the engine."""
    p = sub.add_parser("denoise", help="denoise image files or folders (resumable: a rerun skips what is done)")
    p.add_argument("inputs", nargs="*", metavar="IN",
                   help="image files and/or folders (walked recursively; outputs mirror their sub-folders); "
                        "paths or URIs pyarrow reaches (s3://bucket/photos)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one input; its suffix sets the format: x.png, x.jpg, x.heic...) or folder; "
                        "a folder gets a journal (.denoiser-journal/) so the same command again skips what is done")
    p.add_argument("--from-list", action="append", metavar="FILE",
                   help="a text file naming image files, one per line (- reads standard input); outputs mirror "
                        "their paths below the deepest folder they share (repeatable)")
    p.add_argument("--glob", metavar="PATTERN",
                   help="only files of the folders whose path matches, case-insensitively, from the right "
                        "(*.jpg: every JPEG at any depth; 2023/*.heic)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process, decoding and encoding in threads; ray: Ray Data actors on a cluster "
                        "(RAY_ADDRESS or --address; a local Ray otherwise), needs the cluster extra")
    p.add_argument("--address", default=None, help="--engine ray: the cluster's address (default $RAY_ADDRESS)")
    p.add_argument("--workers", type=int, default=None,
                   help="ray: model actors (default one per GPU, else one per CPU); local: decode/encode threads "
                        "(default 2)")
    p.add_argument("--format", choices=("same", *image_io.OUTPUT_FORMATS), default="same",
                   help="output format in a folder (default same: the input's own where we write it losslessly or "
                        "at high quality, PNG for BMP, GIF and PPM); 16-bit stays 16-bit only in PNG and TIFF")
    p.add_argument("--quality", type=int, default=image_io.DEFAULT_QUALITY,
                   help="JPEG, HEIC and WebP quality, 1-100 (default %(default)s)")
    p.add_argument("--strip-metadata", action="store_true",
                   help="leave out EXIF (camera, date, GPS location); the colour profile is always kept")
    p.add_argument("--model", default=None, help="shipped name, local folder or Hub repo id[@revision]")
    p.add_argument("--sigma", type=float, default=None, help="noise level on the 0-255 scale (default: estimate)")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0-4: scales the noise level (estimated or given); below 1 keeps texture, above removes more")
    p.add_argument("--ensemble", action="store_true", help="max quality: average 8 flips/rotations (8x slower)")
    p.add_argument("--tile", type=int, default=1024, help="tile size in pixels (bounds memory)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--adapt", action="store_true",
                   help="first fine-tune the model to this one photo's own noise, measured in its flat regions and put "
                        "on its own denoised version (slower: --minutes)")
    p.add_argument("--minutes", type=float, default=None, help="--adapt: its time budget (default 5)")
    p.add_argument("--clean", action="append", default=[], metavar="DIR",
                   help="--adapt: put the noise on these clean, sharp photos instead (a folder; repeatable)")
    p.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                   help="onnx: run the network in onnxruntime (faster on a CPU; needs the onnx extra); the model is "
                        "exported once into ~/.cache/denoiser/onnx, or --model names a folder holding model.onnx")
    p.set_defaults(func=cmd_denoise)


def _add_evaluate_command(sub: argparse._SubParsersAction) -> None:
    """The evaluate command: PSNR/SSIM/speed of models and classical methods on a data set."""
    p = sub.add_parser("evaluate", help="PSNR/SSIM/speed on a folder of clean images or noisy/clean pairs")
    p.add_argument("--clean", help="folder of clean images (AWGN added at each --sigma)")
    p.add_argument("--pairs", help="folder with noisy/ and gt/ sub-folders")
    p.add_argument("--sigma", type=float, nargs="+", default=None,
                   help="AWGN levels on the 0-255 scale (default 25); with --pairs: fixed levels given to the "
                        "method instead of estimating one per image")
    p.add_argument("--model", action="append", help="model to score (repeatable); default: the shipped model")
    p.add_argument("--method", action="append", help="classical method to score (repeatable)")
    p.add_argument("--blind", action="store_true", help="do not give the true sigma to the method")
    p.add_argument("--jpeg-quality", type=int, default=None,
                   help="with --clean: JPEG-compress each noisy image at this quality (methods are then blind)")
    p.add_argument("--split", choices=("all", "train", "test", "val"), default="all",
                   help="with --pairs: the standard scene split's train or test part; with --clean ImageNet1000: val (ImageNet-val) or train")
    p.add_argument("--seed", type=int, default=0, help="base seed of the per-image noise generators (same seed, same noisy images)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--json", help="write the records to this JSON file")
    p.set_defaults(func=cmd_evaluate)


def _add_add_noise_command(sub: argparse._SubParsersAction) -> None:
    """The add-noise command: one noise model with its parameters."""
    p = sub.add_parser("add-noise", help="corrupt an image with a noise model")
    p.add_argument("input", metavar="IN", help="clean image file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="noisy image to write (clipped to [0, 1], stored at the input's bit depth)")
    p.add_argument("--kind", required=True, choices=sorted(NOISE_PARAMS), help="noise model; its parameters follow")
    p.add_argument("--sigma", type=float, help="gaussian: std on the 0-255 scale")
    p.add_argument("--peak", type=float, help="poisson: photons at full intensity")
    p.add_argument("--amount", type=float, help="salt-pepper: fraction of values replaced")
    p.add_argument("--beta1", type=float, help="nlf: signal-dependent variance slope")
    p.add_argument("--beta2", type=float, help="nlf: constant variance")
    p.add_argument("--fraction", type=float, help="mask: fraction of pixels set to zero")
    p.add_argument("--seed", type=int, default=0, help="noise generator seed (same seed, same noise)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_add_noise)


def _add_estimate_command(sub: argparse._SubParsersAction) -> None:
    """The estimate command: the noise level each model would assume."""
    p = sub.add_parser("estimate", help="estimate the noise level (sigma) and NLF of images")
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files and/or folders (walked recursively)")
    p.add_argument("--model", default=None, help="the model whose noise estimate to print (default: the photo model)")
    p.set_defaults(func=cmd_estimate)


def _add_export_onnx_command(sub: argparse._SubParsersAction) -> None:
    """The export-onnx command: the model as ONNX graphs."""
    p = sub.add_parser("export-onnx", help="write model.onnx (and estimator.onnx) + config.json for onnxruntime")
    p.add_argument("model", metavar="MODEL", help="shipped name (photo, gaussian), local folder or Hub repo id[@revision]")
    p.add_argument("-o", "--output", metavar="DIR", help="folder to write (default: ./MODEL-onnx)")
    p.set_defaults(func=cmd_export_onnx)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """The errors printed as one `error:` line. ModelLoadError and JournalBusy are looked up among
    the modules already loaded: an error raised before denoiser.hub (and torch) loaded cannot be one,
    and importing it here would cost seconds for `--help` and a mistyped path."""
    types = [CLIError, image_io.ImageReadError, ValueError, FileNotFoundError]
    for module, name in (("denoiser.hub", "ModelLoadError"), ("denoiser.journal", "JournalBusy")):
        if module in sys.modules:
            types.append(getattr(sys.modules[module], name))
    return tuple(types)


def main(argv: list[str] | None = None, prog: str = "denoiser") -> int:
    """Run the command line; torch loads only once a command needs a model."""
    args = build_parser(prog).parse_args(argv)
    try:
        return args.func(args)
    except Exception as err:
        if not isinstance(err, _user_error_types()):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
