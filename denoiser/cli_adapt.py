"""The command line's door to the trainer: `denoiser adapt FOLDER` and `denoise PHOTO --adapt` fine-tune a model
to a camera's noise (`denoiser_train.adapt`), imported only when one of them runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_adapt_command(sub: argparse._SubParsersAction) -> None:
    """The adapt command: fine-tune a model on a folder of noisy photos (the trainer does the work)."""
    from denoiser_train.adapt import build_parser as adapt_options

    p = sub.add_parser("adapt", help="fine-tune a model to the noise of a folder of your own noisy photos")
    adapt_options(p).set_defaults(func=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    from denoiser_train.adapt import adapt

    folder = adapt(args.folder, args.out, minutes=args.minutes, source=args.source, threads=args.threads,
                   split=args.split, steps=args.steps, clean=tuple(args.clean))
    print(f"adapted model: {folder} (use it with --model {args.out}; run the same command again to adapt further)")
    return 0


def adapt_to_photo(args: argparse.Namespace, scratch: Path) -> str:
    """`denoise PHOTO --adapt`: fine-tune the model on this photo's measured noise (`denoiser adapt` on a folder of
    one), in a scratch folder that goes when the photo is done; returns the adapted weights' folder."""
    from denoiser_train.adapt import PHOTO_MINUTES
    from denoiser_train.photo_adapt import adapt_to_photo as adapt_photo

    from .io import read_image
    from .jpeg_quality import stored_quality

    photos = [Path(p) for p in args.inputs]
    if args.from_list or args.glob or len(photos) != 1 or not photos[0].is_file():
        raise ValueError("--adapt takes one photo file (it learns that photo's noise); for many photos from one "
                         "camera run `denoiser adapt FOLDER -o DIR` once, then `denoise ... --model DIR`")
    if args.engine != "local" or args.runtime != "torch":
        raise ValueError("--adapt runs here, in torch: leave out --engine ray and --runtime onnx")
    if Path(args.output).is_file() and not args.overwrite:  # before minutes of adapting, not after
        raise ValueError(f"{args.output} exists: give --overwrite to replace it")
    minutes = PHOTO_MINUTES if args.minutes is None else args.minutes
    try:
        return str(adapt_photo(read_image(photos[0]), scratch, minutes=minutes, source=args.model or "photo",
                               clean=tuple(args.clean), jpeg_quality=stored_quality(photos[0])))
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"--adapt: {error}") from error
