"""`python -m denoiser adapt FOLDER -o DIR`: fine-tune a model to the noise of your own camera.

It reads no clean version of your photos. The noise of FOLDER's noisy photos is measured in their flat regions
(`noise_fit`: its level at each brightness, its colour and spatial correlation, through the tone curve), then
the model is fine-tuned, supervised, on clean photos carrying that measured noise: any sharp, well-lit photos
(`--clean DIR`; by default the training sets in $DENOISER_DATA/train or ../shared/data/train), or the noisy photos'
own denoised versions (`--clean own`, and the default where there is no data folder). DIR is an
ordinary training run (`python -m train --resume DIR` continues it, `python -m train push DIR REPO` publishes
it) whose exported weights, DIR/model/, load with `load_model(DIR)` and `denoise --model DIR`. The run is
`--steps` long; `--minutes` is the time budget of one invocation: it stops cleanly at it with the model
exported, and running the same command again continues from the last checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

ADAPT_DEFAULTS = {  # measured on SIDD12 (validation; see the README's "Adapt to your camera")
    "lr": 5e-5,
    "min_lr": 2e-6,
    "schedule": "cosine",
    "warmup": 20,
    "patch": 96,
    "batch": 8,
    "loss": "l1",
    "noise": "gaussian:0-75@1,fitted@3",  # white noise keeps its quality; the camera's noise is the most of it
    "clean_downscale": 400,  # halve big clean photos: cleaner targets
    "augment": ("flip", "rot90", "hue", "brightness"),
    "val_fraction": 0.0,
    "checkpoint_every": 250,
    "log_every": 50,
}
DEFAULT_STEPS = 3000  # ~8 minutes on 2 CPU cores
# `denoise PHOTO --adapt`: SIDD12's 1 MP crop, 5 min on 2 cores (step 1400 of these): 39.03 -> 40.10 dB
PHOTO_STEPS = 1500
PHOTO_MINUTES = 5.0
CLEAN_SETS = ("CBSD432", "ImageNet1000")  # the default clean photos, under $DENOISER_DATA/train


OWN = "own"  # --clean own: the noisy photos' own denoised versions (denoiser_train.own_clean)


def default_clean() -> tuple[str, ...]:
    """The clean training photos of the data folder ($DENOISER_DATA, else ../shared/data beside the clone);
    empty where there is none."""
    root = Path(os.environ.get("DENOISER_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data") / "train"
    return tuple(str(root / name) for name in CLEAN_SETS if (root / name).is_dir())


def clean_photos(clean: tuple[str, ...], folder: str | Path, split: str, model, out: Path) -> tuple[str, ...]:
    """What the measured noise goes on: the folders given; `own` (or, with none given, no data folder either): the
    noisy photos' own denoised versions, written once into OUT/own_clean."""
    clean = tuple(map(str, clean)) or default_clean()
    if clean and OWN not in clean:
        return clean
    from .noisy_folders import noisy_paths
    from .own_clean import write_own_clean

    print("the clean photos: your photos' own denoised versions", flush=True)
    own = write_own_clean(noisy_paths(folder, split), model, out / "own_clean")
    return tuple(c for c in clean if c != OWN) + (str(own),)


def adapt(folder: str | Path, out: str | Path, minutes: float = 10.0, source: str = "photo", threads: int = 0,
          seed: int = 0, split: str = "all", steps: int = DEFAULT_STEPS, clean: tuple[str, ...] = (),
          on_step: Callable[[int, int], None] | None = None, resumable: bool = True, **overrides) -> Path:
    """Fine-tune `source` to the noise of the photos in `folder` for `minutes` (or continue DIR's run); returns
    the weights folder DIR/model. `overrides` replace ADAPT_DEFAULTS (TrainConfig fields) for a new run;
    on_step(step, total) hears the progress; resumable False: a scratch run its caller deletes."""
    from denoiser.files import atomic_write_text

    from .config import TrainConfig, resume_config
    from .init_sources import load_source
    from .loop import train
    from .noisy_folders import noisy_paths

    if minutes <= 0 or steps <= 0:
        raise ValueError(f"--minutes and --steps must be positive, got {minutes} and {steps}")
    out = Path(out)
    if (out / "train_config.json").is_file():
        given = {"max_minutes", "threads", "steps"}
        cli = TrainConfig(max_minutes=minutes, threads=threads, steps=steps)
        config = resume_config(out, cli, given)
        if tuple(config.noise_from) != (str(folder),) or config.noisy_split != split:
            raise ValueError(f"{out} adapts to {list(config.noise_from)} (split {config.noisy_split}), not {folder} "
                             f"(split {split}): give another -o DIR")
        print(f"continuing {out} up to step {steps}, for at most {minutes:g} minutes", flush=True)
    else:
        noisy_paths(folder, split)  # a missing or empty folder fails here, before the model loads
        source_model, _ = load_source(source)
        if source_model.config.arch != "unet" or not source_model.config.noise_map:
            raise ValueError(f"{source}: only the encoder-decoder models with a noise-level input can be adapted")
        out.mkdir(parents=True, exist_ok=True)
        architecture = out / "source_config.json"
        atomic_write_text(architecture, source_model.config.to_json() + "\n")
        config = TrainConfig(out=str(out), clean=clean_photos(clean, folder, split, source_model, out),
                             noise_from=(str(folder),),
                             noisy_split=split, init=(source,), model_config=str(architecture), steps=steps,
                             max_minutes=minutes, threads=threads, seed=seed, channels=source_model.config.channels,
                             level="checked" if source_model.config.estimator else "true", **ADAPT_DEFAULTS)
        config = dataclasses.replace(config, **overrides).validate()
    run = train(config, on_step=on_step, resumable=resumable)
    return run / "model"


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("folder", metavar="FOLDER", help="your noisy photos (sub-folders included; a noisy/ + gt/ "
                                                         "folder gives noisy/ only: references are never read)")
    parser.add_argument("--clean", nargs="+", default=(), metavar="DIR",
                        help="clean, sharp photos to put the measured noise on (default: the data folder's training "
                             "sets; `own`, or with no data folder: your photos' own denoised versions)")
    parser.add_argument("-o", "--out", required=True, metavar="DIR",
                        help="the run folder; its model/ is the adapted weights (denoise --model DIR)")
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget for this invocation; run the "
                                                                    "same command again to continue")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help="the run's length in steps (its learning rate decays over them)")
    parser.add_argument("--from", dest="source", default="photo", metavar="MODEL",
                        help="the model to start from: a shipped name, a weights folder or a Hub id")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--split", choices=("all", "train", "test"), default="all",
                        help="for a noisy/ + gt/ folder: adapt on the noisy images of this part of the standard scene split")
    return parser
