"""The training loop: data, optimisation, validation, checkpoints, DDP, export."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from denoiser.evaluate import evaluate
from denoiser.hub import unwrap
from denoiser.model import build_model, count_parameters

from .batching import StepBatches, batches, epoch_steps, patch_schedule
from .checkpoint import anchor_weights, find_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import BatchMaker, Example, NoiseSpec, load_clean, load_pairs, split_by_scene
from .init_sources import load_source
from .noise_fit import measured_noise
from .objectives import anchor_penalty, learning_rate, loss_fn, step_loss
from .report import export_run, write_logs
from .self_supervised import NoisyBatchMaker, NoisyImage, load_noisy
from .stop_request import StopRequest


# ------------------------------------------------------------------ setup helpers

def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _device(config: TrainConfig) -> torch.device:
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was asked for but CUDA is not available")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def initial_weights(model: torch.nn.Module, sources: tuple[str, ...]) -> dict[str, str]:
    """Copy the weights of trained models (shipped names, NAME@REVISION, folders or Hub ids; see
    init_sources) into `model` wherever the names and shapes agree, the first source winning where
    two fit the same tensor; anything none has (e.g. an estimator) keeps its fresh initialisation. A
    source that fits nothing is an error, not a silent fresh start. Returns {source: SHA-256 of its
    model.safetensors}, so a run records exactly which files it started from."""
    own, taken, hashes = model.state_dict(), {}, {}
    for source in sources:
        source_model, hashes[source] = load_source(source)
        source_state = source_model.state_dict()
        matched = {k: v for k, v in source_state.items() if k in own and own[k].shape == v.shape}
        if not matched:
            raise ValueError(f"--init {source}: none of its weights fit this model's architecture")
        new = {k: v for k, v in matched.items() if k not in taken}
        taken.update(new)
        print(f"initialised {len(new)}/{len(own)} tensors from {source} (sha256 {hashes[source]})", flush=True)
    model.load_state_dict(taken, strict=False)
    fresh = sorted({k.split(".")[0] for k in own if k not in taken})
    if fresh:
        print(f"fresh: {fresh}", flush=True)
    return hashes


def load_noisy_photos(config: TrainConfig) -> list[NoisyImage]:
    """The --noisy folders' photos (references never read), each big enough for one sub-image."""
    return [image for folder in config.noisy for image in load_noisy(folder, config.channels, config.patch * config.pd_stride,
                                                                    config.noisy_split)]


def load_data(config: TrainConfig) -> tuple[list[Example], list[Example]]:
    """Training and validation examples (validation: --val, or a scene-wise split; none for --noisy alone)."""
    clean, pairs = [], []
    for folder in config.clean:
        clean += load_clean(folder, config.channels, max(config.patch, config.late_patch), config.clean_downscale)
    for folder in config.pairs:
        pairs += load_pairs(folder, config.channels, max(config.patch, config.late_patch), config.pairs_split)
    if config.val:
        val_dir = Path(config.val)
        has_pairs = (val_dir / "noisy").is_dir() or (val_dir / "Data").is_dir()
        # a folder with a fixed validation split (ImageNet1000) validates on that split alone
        val = load_pairs(val_dir, config.channels, 8) if has_pairs else load_clean(val_dir, config.channels, 8, split="val")
        return clean + pairs, val
    if pairs:  # real pairs are what the model is for: validate on held-out scenes of those only
        train_pairs, val = split_by_scene(pairs, config.val_fraction)
        return clean + train_pairs, val
    if not clean:  # noisy photos alone: nothing to score against without --val
        return [], []
    return split_by_scene(clean, config.val_fraction)


# ------------------------------------------------------------------ validation

def validate(model, val: list[Example], config: TrainConfig, val_batch) -> dict:
    """Validation loss on fixed patches, and PSNR/SSIM through denoiser.evaluate()."""
    model = unwrap(model)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        noisy, clean, sigma_map = (t.to(_model_device(model)) for t in val_batch)
        level = config.denoiser_level if getattr(model, "estimator", None) is not None else "true"
        given = sigma_map if level == "true" else None  # judge the estimator's level, not the true one
        result = {"val_loss": float(loss_fn(config.loss, model(noisy, given, per_image=level in ("image", "checked"))
                                            if given is None else model(noisy, given), clean))}
    model.train(was_training)
    images = val[: config.val_limit or None]
    if images and images[0].noisy is not None:
        records = evaluate(model, pairs=[(e.noisy, e.clean) for e in images], dataset="val")
    else:
        blind = not model.config.noise_map  # e.g. the seed network: it takes no noise level
        records = evaluate(model, clean=[e.clean for e in images], sigmas=config.val_sigmas, dataset="val",
                           seed=config.seed, blind=blind)
    for record in records:
        tag = "real" if record.sigma is None else f"{record.sigma:g}"
        result[f"psnr_{tag}"] = record.psnr
        result[f"ssim_{tag}"] = record.ssim
    return result


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


# ------------------------------------------------------------------ the loop

def train(config: TrainConfig, on_step: Callable[[int, int], None] | None = None, resumable: bool = True) -> Path:
    """Run (or resume) training as configured; returns the run folder. Exports RUN/model/ at the end.
    on_step(step, total), when given, hears each finished step (a progress bar outside the terminal);
    resumable False: a scratch run, deleted by the caller, so a stop does not say how to continue it."""
    rank, world, device = _start_process(config)
    run = Path(config.out)
    is_main = rank == 0
    if is_main:
        run.mkdir(parents=True, exist_ok=True)
        (run / "train_config.json").write_text(config.to_json() + "\n")

    train_examples, val_examples = load_data(config)
    noisy_photos = load_noisy_photos(config)
    model, ema, optimizer = _build(config, run, is_main, device)
    noise = NoiseSpec.parse(config.noise, config.camera_tables,
                            measured_noise(run, config.noise_from, config.noisy_split, model, is_main))
    batches_from, total, per_epoch = _batch_plan(config, train_examples, noisy_photos, noise, rank, world)
    val_batch = _validation_batch(config, val_examples, noise)

    anchor = anchor_weights(run, model, config.anchor, bool(config.resume), is_main, world)
    state = {"step": 0, "history": [], "seconds": 0.0}
    checkpoint = find_checkpoint(run, config.from_checkpoint) if config.resume else None
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model, optimizer, ema)
    if is_main:
        _announce(model, (len(train_examples), len(noisy_photos), len(val_examples)), total, per_epoch, device, world,
                  state["step"] if checkpoint else None)

    data = batches(batches_from(state["step"]), config.workers, device.type == "cuda")
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    progress = _progress_bar(total, state["step"], is_main)
    start, step, running = time.perf_counter(), state["step"], []
    seconds_before = state.get("seconds", 0.0)
    stop = StopRequest()
    with stop:
        while step < total:
            lr = learning_rate(config, step, total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = step_loss(wrapped, config, *next(data), device) + anchor_penalty(model, anchor, config.anchor)
            if _agree(not torch.isfinite(loss).item(), world, device):  # never checkpoint a diverged model
                raise RuntimeError(f"training diverged at step {step + 1} (loss {loss.item()}); the checkpoints in "
                                   f"{run / 'checkpoints'} are from before; try a lower --lr or --clip-grad")
            _update(model, optimizer, ema, loss, config, step)
            step += 1
            state["step"] = step  # the run card and checkpoints read the step from here
            running.append(loss.item())
            elapsed = time.perf_counter() - start
            _show_step(progress, running[-1], lr, elapsed, config.max_minutes)
            if on_step is not None:
                on_step(step, total)

            out_of_time = config.max_minutes and elapsed > config.max_minutes * 60
            halt = _agree(stop.requested or bool(out_of_time), world, device)
            if is_main:
                record = _Record(run, config, state, step, total, seconds_before + elapsed)
                running = _log_and_checkpoint(record, model, optimizer, ema, running, lr, per_epoch, halt,
                                              val_batch, val_examples)
            if halt:
                break
    progress.close()
    _finish(run, config, ema or model, state, total, stop.requested, world, is_main, val_examples, resumable)
    return run


def _show_step(progress, loss: float, lr: float, elapsed: float, max_minutes: float) -> None:
    """Advance the progress bar: the loss, the learning rate and, with a time budget, the minutes spent of it."""
    progress.update(1)
    budget = {"minutes": f"{elapsed / 60:.1f}/{max_minutes:g}"} if max_minutes else {}
    progress.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.2g}", **budget)


def _announce(model, counts: tuple[int, int, int], total: int, per_epoch: int, device, world: int,
              resumed_at: int | None) -> None:
    """The run's first line: the model, the data (training / noisy-only / validation images), the length."""
    print(f"model {model.config.arch}: {count_parameters(model) / 1e6:.2f} M parameters; {counts[0]} training / "
          f"{counts[1]} noisy-only / {counts[2]} validation images; {total} steps ({per_epoch} per epoch) on {device} "
          f"x{world}; " + (f"resuming at step {resumed_at}" if resumed_at is not None else "starting at step 0"), flush=True)


def _finish(run: Path, config: TrainConfig, model, state: dict, total: int, stop_requested: bool, world: int,
            is_main: bool, val_examples: list[Example], resumable: bool = True) -> None:
    """After the last step (or a stop): say how to continue an unfinished run, export RUN/model/ (the
    EMA weights when kept), and leave the process group."""
    if world > 1:
        dist.barrier()
    if is_main:
        step = state["step"]
        if step < total:
            why = "stop requested" if stop_requested else f"time budget of {config.max_minutes} min reached"
            how = f"checkpoint at step {step}/{total}; continue with python -m train --resume {run}"
            print(f"{why}: " + (how if resumable else f"stopped at step {step}/{total}"), flush=True)
        export_run(run, model, config, state, step >= total, val_examples)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def _start_process(config: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process, with its threads and CUDA settings applied."""
    rank, world = _distributed()
    if config.batch % world:
        raise ValueError(f"--batch {config.batch} must divide evenly over {world} processes")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _device(config)
    if device.type == "cuda":  # TF32 convolutions and tuned kernels: fast, and ample precision for 8-bit images
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return rank, world, device


def _batch_plan(config: TrainConfig, train_examples: list[Example], noisy_photos: list[NoisyImage], noise: NoiseSpec,
                rank: int, world: int):
    """(this rank's batches from a given step on, total steps, steps per epoch): the patch schedule
    (larger patches late) over the whole run, each rank taking its share of every global batch; with
    --noisy, a blind-spot batch beside each supervised one."""
    maker = late_maker = None
    noisy_maker = None
    if train_examples:
        maker = BatchMaker(tuple(train_examples), noise, config.patch, config.augment, config.augment_pairs,
                           config.seed, config.pairs_weight, white_targets_only=config.white_targets_only)
    noisy_pixels = sum(p.image.shape[0] * p.image.shape[1] for p in noisy_photos)
    if noisy_photos:
        noisy_maker = NoisyBatchMaker(tuple(noisy_photos), config.patch, config.pd_stride,
                                      flips=bool({"flip", "rot90"} & set(config.augment)), seed=config.seed)
    noisy_batch = config.noisy_batch or config.batch
    if noisy_batch % world:
        raise ValueError(f"--noisy-batch {noisy_batch} must divide evenly over {world} processes")
    per_epoch = epoch_steps(train_examples, config, noisy_pixels)
    total = config.steps or math.ceil(config.epochs * per_epoch)
    late_start, late_patch, late_batch = patch_schedule(config, total, world)
    if maker is not None:
        late_maker = dataclasses.replace(maker, patch=late_patch)

    def batches_from(first_step: int) -> StepBatches:
        return StepBatches(maker, late_maker, late_start, range(rank, config.batch, world),
                           range(rank, late_batch, world), first_step, total, noisy_maker,
                           range(rank, noisy_batch, world))

    return batches_from, total, per_epoch


def _validation_batch(config: TrainConfig, val_examples: list[Example], noise: NoiseSpec):
    """The fixed noisy validation batch (patches cut to the model's stride), or None without validation data."""
    if not val_examples:
        return None
    stride = build_model(config.architecture()).stride  # val patches, like training ones, fit the stride
    val_patch = min(config.patch, *(min(e.clean.shape[:2]) for e in val_examples)) // stride * stride
    if val_patch < stride:
        raise ValueError(f"validation images must be at least {stride} px on each side (the model's stride)")
    val_maker = BatchMaker(tuple(val_examples), noise, val_patch, (), False, config.seed + 1)
    return val_maker.batch(0, range(min(64, 4 * config.batch)))


def _build(config: TrainConfig, run: Path, is_main: bool, device: torch.device):
    """(model, EMA copy or None, optimizer): the same initial weights on every rank, --init applied (its
    files' SHA-256 recorded), the denoiser frozen with --estimator-only, the estimator with --level checked."""
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = build_model(config.architecture())
    if config.init and not config.resume:
        hashes = initial_weights(model, config.init)
        if is_main:
            (run / "init_sources.json").write_text(json.dumps(hashes, indent=2) + "\n")
    model = model.to(device)
    if config.estimator_only or config.denoiser_level == "checked":
        if getattr(model, "estimator", None) is None:
            raise ValueError(f"--{'estimator-only' if config.estimator_only else 'level checked'} needs a model with "
                             "a noise estimator (e.g. --preset photo)")
        for name, parameter in model.named_parameters():  # train one part: the estimator, or the denoiser
            parameter.requires_grad_(name.startswith("estimator.") == config.estimator_only)
    model.train()
    ema = copy.deepcopy(model).eval().requires_grad_(False) if config.ema else None
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    return model, ema, optimizer


def _update(model, optimizer, ema, loss: torch.Tensor, config: TrainConfig, step: int) -> None:
    """Backward, clip, step, then move the EMA towards the new weights."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.clip_grad:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
    optimizer.step()
    if ema is not None:
        # Warm-up: early on the average forgets faster, so random initial weights do not
        # linger in it (decay (1 + t) / (10 + t), capped at --ema).
        decay = min(config.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - decay)


@dataclasses.dataclass
class _Record:
    """Where the main process records a step: the run, its config and state, the step, the seconds so far."""

    run: Path
    config: TrainConfig
    state: dict
    step: int
    total: int
    seconds: float


def _log_and_checkpoint(record: _Record, model, optimizer, ema, running: list[float], lr: float, per_epoch: int,
                        halt: bool, val_batch, val_examples: list[Example]) -> list[float]:
    """Main process: log (and validate) when due, checkpoint when due or improved; returns the losses
    still to be averaged into the next log entry."""
    config, state, step = record.config, record.state, record.step
    val_every = config.val_every or per_epoch
    validate_now = val_batch is not None and (step % val_every == 0 or step == record.total)
    improved = False
    if step % config.log_every == 0 or step == record.total or halt or validate_now:
        entry = {"step": step, "epoch": step / per_epoch, "lr": lr, "train_loss": float(np.mean(running)),
                 "seconds": record.seconds}
        running = []
        if validate_now:
            entry.update(validate(ema or model, val_examples, config, val_batch))
            improved = entry["val_loss"] < state.get("best_val_loss", math.inf)
            if improved:
                state["best_val_loss"] = entry["val_loss"]
        state["history"].append(entry)
        write_logs(record.run, state["history"])
    if step % config.checkpoint_every == 0 or step == record.total or halt or improved:
        state["seconds"] = record.seconds
        save_checkpoint(record.run, step, model, optimizer, ema, state, best=improved)
    return running


def _agree(flag: bool, world: int, device: torch.device) -> bool:
    """Under DDP every rank must stop at the same step: stop if any rank wants to."""
    if world == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, dynamic_ncols=True, mininterval=2.0)
