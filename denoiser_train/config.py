"""The trainer's typed configuration and its command line.

Every field of `TrainConfig` is a command-line option (`--max-minutes` for `max_minutes`), and
the field's trailing comment is that option's `--help` text (a test keeps every field documented);
argparse rejects unknown options and ill-typed values, and `validate()` rejects bad
combinations. The config is written to RUN/train_config.json so a run explains itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import io
import json
import re
import tokenize
import typing
from dataclasses import dataclass
from pathlib import Path

import torch

from denoiser.hub import read_config
from denoiser.model import ModelConfig, build_model, preset

LOSSES = ("mse", "l1", "charbonnier")
SCHEDULES = ("cosine", "step", "constant")
AUGMENTATIONS = ("flip", "rot90", "hue", "brightness")
LEVELS = ("auto", "true", "map", "image", "checked")
RESUMABLE_OVERRIDES = ("steps", "epochs", "max_minutes", "push_to_hub", "private", "revision", "threads", "workers",
                       "from_checkpoint")


@dataclass(frozen=True)
class TrainConfig:
    out: str = ""  # run folder (checkpoints, logs, exported model)
    clean: tuple[str, ...] = ()  # folders of clean images, corrupted on the fly by --noise
    clean_downscale: int = 0  # halve clean images whose short side is at least this (0: off): cleaner targets from noisy JPEG photos
    pairs: tuple[str, ...] = ()  # folders of real pairs: noisy/ + gt/, or the SIDD Data/ layout
    pairs_weight: float = 0.0  # share of patches drawn from --pairs when mixed with --clean (0: by image count)
    pairs_split: str = "all"  # "train": only the train part of the standard scene split (keeps its test part unseen)
    noisy: tuple[str, ...] = ()  # folders of noisy photos without references (a noisy/ + gt/ folder gives noisy/ only): learnt from by the pixel-shuffle blind-spot objective (denoiser_train.self_supervised)
    noise_from: tuple[str, ...] = ()  # folders of noisy photos (references never read) whose noise is measured in their flat regions and synthesised onto the clean images as noise kind `fitted` (denoiser_train.noise_fit)
    noisy_split: str = "all"  # with --noisy / --noise-from folders laid out as noisy/ + gt/: all, or the train or test part of the standard scene split
    noisy_weight: float = 1.0  # weight of the blind-spot term when mixed with --clean or --pairs (their loss has weight 1)
    noisy_batch: int = 0  # sub-images per step for the blind-spot term (0: --batch)
    pd_stride: int = 5  # pixel-shuffle stride of the blind-spot term: sub-image neighbours are this far apart in the photo, beyond the noise's correlation (AP-BSN trains at 5)
    noisy_level: str = "white"  # the level the denoiser is given on the sub-images: white (their wavelet estimate: their noise is near white, which the check's wavelet branch handles) or learned (the frozen estimator's median)
    anchor: float = 0.0  # L2-SP: this weight times the squared distance of the trained weights from the starting ones (Li et al., ICML 2018), so a fine-tune on a few photos stays near the model it started from (0: off)
    val: str | None = None  # validation folder (clean images or pairs; ImageNet1000: its fixed ImageNet-val split); default: a split of the data
    val_fraction: float = 0.1  # share of scenes held out when --val is not given
    val_sigmas: tuple[float, ...] = (15.0, 25.0, 50.0)  # AWGN levels for validating on clean images
    val_limit: int = 8  # validation images per evaluation (0 = all)
    noise: str = "gaussian:0-75"  # synthetic noise spec, e.g. "gaussian:0-75@3,nlf@1"
    camera_tables: str | None = None  # folder with sidd_phone_nlf.csv and camera_response_functions.npz, for --noise phone (default: $DENOISER_DATA/camera or ../shared/data/camera)
    preset: str = "default"  # model preset: default | deep | photo | seed
    model_config: str | None = None  # a config.json to use instead of the preset
    init: tuple[str, ...] = ()  # start from these weights: shipped names, NAME@REVISION (the shipped weights at a git revision of this repo), model folders or Hub ids; for a tensor two sources share, the first wins; layers none has, e.g. a new estimator, start fresh; each file's SHA-256 goes to RUN/init_sources.json
    estimator_loss: float = 1.0  # weight of the noise-map estimator's asymmetric loss (models with an estimator)
    estimator_target: str = "std"  # what the estimator's own loss compares it with: std (the noise's local std, every sample) or white (only white Gaussian samples, whose std is the level the denoiser was trained for; other noise teaches it through the denoiser's loss alone, with --level map or image)
    estimator_only: bool = False  # train only the estimator, end to end through the frozen denoiser: the denoising loss teaches it the noise level that works best (CBDNet's joint training)
    level: str = "auto"  # the level the denoiser is given in training (models with an estimator): true (the noise's std map), map (the estimator's map, end to end), image (its median per patch, end to end, as denoise() uses it), checked (as denoise() with the white-noise check: white Gaussian samples their true std, all others the median of the estimator, which stays frozen, so the check's thresholds keep holding); auto: map with --estimator-only, else true
    channels: int = 3  # 3 for colour, 1 for gray models
    noise_map: bool = True  # give the unet a noise-level-map input (--no-noise-map: fully blind)
    patch: int = 64  # training crop side in pixels
    batch: int = 32  # crops per optimisation step (over all DDP ranks)
    late_patch: int = 0  # patch size for the last --late-fraction of steps (0: off); the batch shrinks to keep pixels/step
    late_fraction: float = 0.25  # share of the steps, at the end, that use --late-patch
    steps: int = 0  # optimisation steps (0: use --epochs)
    epochs: float = 0.0  # one epoch ~ every training pixel seen once
    max_minutes: float = 0.0  # wall-clock budget for this invocation (0 = none); stops cleanly
    lr: float = 1e-4  # peak Adam learning rate (the default is the paper's)
    min_lr: float = 1e-6  # learning rate at the end of the cosine schedule
    schedule: str = "cosine"  # cosine | step | constant
    warmup: int = 0  # linear warm-up steps
    clip_grad: float = 0.0  # clip the gradient norm to this (0 = off); guards against rare loss spikes at high lr
    loss: str = "mse"  # mse (the paper's) | l1 | charbonnier; the last two usually give higher PSNR
    ema: float = 0.0  # exponential moving average of weights (0 = off, e.g. 0.999)
    augment: tuple[str, ...] = AUGMENTATIONS  # some of flip rot90 hue brightness
    augment_pairs: bool = False  # photometric augmentation on real pairs (changes their noise)
    val_every: int = 0  # steps between validations (0 = once per epoch)
    checkpoint_every: int = 200  # steps between checkpoints (also written on stop)
    log_every: int = 20  # steps between log lines
    seed: int = 0  # seeds the weights and the data order; a batch is a function of (seed, step)
    threads: int = 0  # torch CPU threads (0 = torch's default)
    workers: int = 0  # processes that make batches ahead of the optimiser (0: in the training process); a GPU needs several to stay busy
    device: str = "auto"  # auto | cpu | cuda
    resume: str | None = None  # continue RUN_DIR from its latest checkpoint, with its saved config
    from_checkpoint: str = "latest"  # with --resume: latest | best (lowest validation loss) | step-NNNNNNN
    push_to_hub: str | None = None  # after training, upload the model to this Hub repo (owner/name)
    private: bool = False  # create the Hub repo as private
    revision: str | None = None  # Hub branch to push to

    def validate(self) -> "TrainConfig":
        problems = []
        if not self.out and not self.resume:
            problems.append("--out RUN_DIR is required")
        if not self.clean and not self.pairs and not self.noisy and not self.resume:
            problems.append("give training data with --clean DIR, --pairs DIR and/or --noisy DIR")
        problems += self._noisy_problems()
        if self.steps <= 0 and self.epochs <= 0 and not self.resume:
            problems.append("give a length with --steps N or --epochs N")
        if self.pairs_split not in ("all", "train"):
            problems.append(f"--pairs-split must be all or train, got {self.pairs_split!r}")
        if self.loss not in LOSSES:
            problems.append(f"--loss must be one of {LOSSES}, got {self.loss!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"--schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        bad = sorted(set(self.augment) - set(AUGMENTATIONS))
        if bad:
            problems.append(f"unknown augmentations {bad}; expected some of {AUGMENTATIONS}")
        if self.channels not in (1, 3):
            problems.append(f"--channels must be 1 or 3, got {self.channels}")
        if self.patch < 8 or self.batch < 1:
            problems.append("--patch must be >= 8 and --batch >= 1")
        if self.late_patch and self.late_patch < self.patch:
            problems.append(f"--late-patch ({self.late_patch}) must be 0 or at least --patch ({self.patch})")
        if not 0 < self.late_fraction <= 1:
            problems.append("--late-fraction must be in (0, 1]")
        if not 0 <= self.val_fraction < 1:
            problems.append("--val-fraction must be in [0, 1)")
        if not 0 <= self.pairs_weight <= 1:
            problems.append("--pairs-weight must be in [0, 1]")
        if self.from_checkpoint not in ("latest", "best") and not self.from_checkpoint.startswith("step-"):
            problems.append(f"--from-checkpoint must be latest, best or step-NNNNNNN, got {self.from_checkpoint!r}")
        if self.clean_downscale < 0:
            problems.append("--clean-downscale must be >= 0")
        if self.estimator_target not in ("std", "white"):
            problems.append(f"--estimator-target must be std or white, got {self.estimator_target!r}")
        elif self.estimator_target == "white" and self.denoiser_level == "true":
            problems.append("--estimator-target white leaves most samples without a true map: use --level map or image")
        if self.estimator_loss < 0:
            problems.append("--estimator-loss must be >= 0")
        if self.level not in LEVELS:
            problems.append(f"--level must be one of {LEVELS}, got {self.level!r}")
        elif self.estimator_only and self.level in ("true", "checked"):
            problems.append(f"--estimator-only learns through the denoiser: --level map or image, not {self.level}")
        if self.clip_grad < 0:
            problems.append("--clip-grad must be >= 0")
        if not 0 <= self.ema < 1:
            problems.append("--ema must be in [0, 1)")
        if self.lr <= 0 or self.min_lr < 0:
            problems.append("--lr must be positive and --min-lr non-negative")
        if self.workers < 0:
            problems.append("--workers must be >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            problems.append(f"--device must be auto, cpu or cuda, got {self.device!r}")
        if not problems:
            problems += self._stride_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _noisy_problems(self) -> list[str]:
        """The checks of the blind-spot options (--noisy and the rest)."""
        problems = []
        if self.pd_stride < 2:
            problems.append("--pd-stride must be at least 2 (neighbours 1 px apart share camera noise)")
        if self.noisy_weight < 0 or self.noisy_batch < 0:
            problems.append("--noisy-weight and --noisy-batch must be >= 0")
        if self.anchor < 0:
            problems.append("--anchor must be >= 0")
        if bool(self.noise_from) != bool(re.search(r"(^|,)\s*fitted\b", self.noise)):
            problems.append("--noise-from and a `fitted` kind in --noise go together (e.g. --noise gaussian:0-75,fitted@3)")
        if self.noisy_split not in ("all", "train", "test"):
            problems.append(f"--noisy-split must be all, train or test, got {self.noisy_split!r}")
        if self.noisy_level not in ("white", "learned"):
            problems.append(f"--noisy-level must be white or learned, got {self.noisy_level!r}")
        return problems

    def architecture(self) -> ModelConfig:
        """The network this config trains: --model-config's file or the preset, with its channels and noise map;
        with --level checked it is trained as denoise() runs it with the white-noise check, so it asks for it."""
        if self.model_config and not Path(self.model_config).is_file():
            raise FileNotFoundError(f"--model-config {self.model_config}: no such file")
        base = read_config(self.model_config) if self.model_config else preset(self.preset)
        checked = base.white_noise_check or self.level == "checked"
        return dataclasses.replace(base, channels=self.channels, noise_map=self.noise_map and base.arch == "unet",
                                   white_noise_check=checked)

    def _stride_problems(self) -> list[str]:
        """The network sees patch x patch crops whose sides must be multiples of its stride (the
        U-Net halves the image once per level: stride 8 for the default and photo presets); any
        other patch size passes the command line and then fails at step 1 with a tensor-size
        mismatch. The stride is read off the model this config builds (on the meta device: no
        weights are allocated). A missing or bad --model-config is left to the trainer's own message."""
        try:
            architecture = self.architecture()
        except (FileNotFoundError, ValueError, RuntimeError):
            return []
        with torch.device("meta"):
            stride = build_model(architecture).stride
        source = f"--model-config {self.model_config}" if self.model_config else f"the {self.preset!r} preset"
        problems = []
        for option, size in (("--patch", self.patch), ("--late-patch", self.late_patch)):
            if size and size % stride:
                nearest = max(stride, round(size / stride) * stride)
                problems.append(f"{option} {size} must be a multiple of the model's stride {stride} "
                                f"({source}); e.g. {option} {nearest}")
        return problems

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training config keys: {unknown}")
        if isinstance(data.get("init"), str) or data.get("init") is None:  # runs from before --init took several
            data["init"] = [data["init"]] if data.get("init") else []
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @property
    def white_targets_only(self) -> bool:
        """Whether batches carry a true map for white Gaussian noise only (NaN elsewhere)."""
        return self.estimator_target == "white" or self.level == "checked"

    @property
    def denoiser_level(self) -> str:
        """--level with auto resolved: true, map, image or checked."""
        if self.level != "auto":
            return self.level
        return "map" if self.estimator_only else "true"


@functools.cache
def field_help() -> dict[str, str]:
    """Each TrainConfig field's trailing comment, which `--help` shows: the comments in the class
    are the one place the options are documented."""
    help_text: dict[str, str] = {}
    tokens = tokenize.generate_tokens(io.StringIO(inspect.getsource(TrainConfig)).readline)
    name = None
    for token in tokens:
        if token.type == tokenize.NAME and token.start[1] == 4 and name is None:
            name = token.string  # a field's first token sits at the class body's indent
        elif token.type == tokenize.COMMENT and name:
            help_text[name] = token.string.lstrip("# ").strip()
        elif token.type == tokenize.NEWLINE:
            name = None
    return {f.name: help_text[f.name] for f in dataclasses.fields(TrainConfig) if f.name in help_text}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Train the denoising autoencoder. `python -m train push RUN_DIR REPO_ID` uploads a finished run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hints = typing.get_type_hints(TrainConfig)
    helps = field_help()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        extra = {"help": helps[f.name].replace("%", "%%")} if f.name in helps else {}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, **extra)
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            parser.add_argument(flag, type=item, nargs="+", default=f.default, action=_Extend, **extra)
        else:
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            parser.add_argument(flag, type=args[0] if args else kind, default=f.default, **extra)
    return parser


class _Extend(argparse.Action):
    """Repeatable list options: `--clean A --clean B` and `--clean A B` both give (A, B)."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest)
        current = () if current is self.default else tuple(current)
        setattr(namespace, self.dest, current + tuple(values))


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, set[str]]:
    """Parse the command line into a validated TrainConfig and the set of fields given explicitly."""
    parser = _parser()
    args = parser.parse_args(argv)
    given = {f.name for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) != f.default}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(args).items()}
    config = TrainConfig(**values)
    if config.resume:
        return config, given
    try:
        return config.validate(), given
    except ValueError as err:
        parser.error(str(err))


def resume_config(run_dir: str | Path, cli: TrainConfig, given: set[str]) -> TrainConfig:
    """The saved config of a run, with the few fields that may change on resume taken from the CLI."""
    path = Path(run_dir) / "train_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a training run (no train_config.json)")
    saved = TrainConfig.from_json(path.read_text())
    changed = sorted(given - set(RESUMABLE_OVERRIDES) - {"resume", "out"})
    if changed:
        raise ValueError(f"cannot change {changed} when resuming; only {RESUMABLE_OVERRIDES}")
    overrides = {name: getattr(cli, name) for name in given & set(RESUMABLE_OVERRIDES)}
    overrides["from_checkpoint"] = cli.from_checkpoint  # a one-off choice: the next resume takes `latest` again
    return dataclasses.replace(saved, out=str(run_dir), resume=str(run_dir), **overrides).validate()
