"""`python -m denoiser adapt FOLDER -o DIR`: fine-tune a model on a folder of your own noisy photos.

No clean image is ever read: the trainer's blind-spot objective (`self_supervised`) learns from the noisy
photos alone. DIR is an ordinary training run (`python -m train --resume DIR` continues it, `python -m train
push DIR REPO` publishes it) whose exported weights, DIR/model/, load with `load_model(DIR)` and
`denoise --model DIR`. The run is `--steps` long (the length that measured best); `--minutes` is the time
budget of one invocation: it stops cleanly at it with the model exported, and running the same command
again continues from the last checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

ADAPT_DEFAULTS = {  # measured on SIDD12's noisy crops (see the README's "Adapt to your camera")
    "lr": 1e-5,
    "schedule": "constant",  # the length is a time budget, so no schedule can know its end
    "ema": 0.999,
    "noisy_batch": 16,
    "pd_stride": 5,
    "checkpoint_every": 50,
    "log_every": 10,
    "loss": "mse",  # the blind-spot identity E|f - y|^2 = E|f - x|^2 + var holds for the squared error
}
# Measured on SIDD12 (validation; tools.adapt_curve): +0.3 dB after ~70 steps, +0.4 after ~135, then the
# fine-tune drifts down (-0.4 dB below the start by ~770 steps): the sub-images' white noise is not the
# photo's correlated noise, so the longer it learns from them the less it fits the photo. Stop at the peak.
DEFAULT_STEPS = 140


def sub_image_side(folder: str | Path, stride: int, largest: int = 48, multiple: int = 8, split: str = "all") -> int:
    """The sub-image side q the photos allow: q * stride must fit in most photos, q a multiple of the
    network's stride, at most `largest` (small sub-images keep a CPU step short)."""
    from .self_supervised import noisy_paths

    sides = sorted(min(_size(p)) for p in noisy_paths(folder, split))
    side = sides[len(sides) // 2] // stride // multiple * multiple  # the median photo fits
    if side < multiple:
        raise ValueError(f"{folder}: the photos are too small to adapt on (the median short side is {sides[len(sides) // 2]} "
                         f"px; at least {stride * multiple} px is needed)")
    return min(side, largest)


def _size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header where Pillow can read it, else from the decoded image."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        from denoiser.io import read_image

        return read_image(path).shape[1::-1]


def adapt(folder: str | Path, out: str | Path, minutes: float = 10.0, source: str = "photo", threads: int = 0,
          seed: int = 0, split: str = "all", steps: int = DEFAULT_STEPS, **overrides) -> Path:
    """Fine-tune `source` on the noisy photos in `folder` for `minutes` (or continue DIR's run); returns
    the weights folder DIR/model. `overrides` replace ADAPT_DEFAULTS (TrainConfig fields) for a new run."""
    from denoiser.files import atomic_write_text

    from .config import TrainConfig, resume_config
    from .init_sources import load_source
    from .loop import train

    if minutes <= 0 or steps <= 0:
        raise ValueError(f"--minutes and --steps must be positive, got {minutes} and {steps}")
    out = Path(out)
    if (out / "train_config.json").is_file():
        given = {"max_minutes", "threads", "steps"}
        cli = TrainConfig(max_minutes=minutes, threads=threads, steps=steps)
        config = resume_config(out, cli, given)
        if tuple(config.noisy) != (str(folder),) or config.noisy_split != split:
            raise ValueError(f"{out} adapts on {list(config.noisy)} (split {config.noisy_split}), not {folder} "
                             f"(split {split}): give another -o DIR")
        print(f"continuing {out} up to step {steps}, for at most {minutes:g} minutes", flush=True)
    else:
        source_model, _ = load_source(source)
        if source_model.config.arch != "unet":
            raise ValueError(f"{source}: only the encoder-decoder models can be adapted")
        out.mkdir(parents=True, exist_ok=True)
        architecture = out / "source_config.json"
        atomic_write_text(architecture, source_model.config.to_json() + "\n")
        # the network's stride fixes the sub-image side
        patch = sub_image_side(folder, ADAPT_DEFAULTS["pd_stride"], multiple=source_model.stride, split=split)
        config = TrainConfig(out=str(out), noisy=(str(folder),), noisy_split=split, init=(source,), model_config=str(architecture),
                             steps=steps, max_minutes=minutes, patch=patch, batch=ADAPT_DEFAULTS["noisy_batch"],
                             threads=threads, seed=seed, augment=("flip", "rot90"),
                             channels=source_model.config.channels, noise_map=source_model.config.noise_map,
                             **ADAPT_DEFAULTS)
        config = dataclasses.replace(config, **overrides).validate()
    run = train(config)
    return run / "model"


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("folder", metavar="FOLDER", help="your noisy photos (sub-folders included; a noisy/ + gt/ "
                                                         "folder gives noisy/ only: references are never read)")
    parser.add_argument("-o", "--out", required=True, metavar="DIR",
                        help="the run folder; its model/ is the adapted weights (denoise --model DIR)")
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget for this invocation; run the "
                                                                    "same command again to continue")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help="the run's length in steps (the best measured on SIDD12; more drifts down)")
    parser.add_argument("--from", dest="source", default="photo", metavar="MODEL",
                        help="the model to start from: a shipped name, a weights folder or a Hub id")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--split", choices=("all", "train", "test"), default="all",
                        help="for a noisy/ + gt/ folder: adapt on the noisy images of this part of the standard scene split")
    return parser
