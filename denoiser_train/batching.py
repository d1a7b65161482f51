"""Batches in step order: the late-patch schedule, the per-step dataset and its worker processes."""

from __future__ import annotations

import torch

from .config import TrainConfig
from .data import BatchMaker, Example
from .self_supervised import NoisyBatchMaker


def patch_schedule(config: TrainConfig, total: int, world: int) -> tuple[int, int, int]:
    """(first step of the late phase, its patch, its batch). Larger patches late give the network
    more context to learn from once it has learnt the basics cheaply on small ones; the batch
    shrinks so each step costs about the same number of pixels."""
    if not config.late_patch:
        return total, config.patch, config.batch
    batch = config.batch * config.patch**2 / config.late_patch**2
    batch = max(world, round(batch / world) * world)  # every rank gets the same share
    return round(total * (1 - config.late_fraction)), config.late_patch, batch


class StepBatches(torch.utils.data.Dataset):
    """Item i is the batch of step `first + i` (this rank's share): (supervised batch or None, blind-spot
    batch or None). A batch is a pure function of its step, so worker processes can make them ahead of
    the optimiser without changing the data."""

    def __init__(self, maker: BatchMaker | None, late_maker: BatchMaker | None, late_start: int, shard: range,
                 late_shard: range, first: int, total: int, noisy_maker: NoisyBatchMaker | None = None,
                 noisy_shard: range = range(0)) -> None:
        self.maker, self.late_maker, self.late_start = maker, late_maker, late_start
        self.shard, self.late_shard, self.first, self.total = shard, late_shard, first, total
        self.noisy_maker, self.noisy_shard = noisy_maker, noisy_shard

    def __len__(self) -> int:
        return max(0, self.total - self.first)

    def __getitem__(self, i: int):
        step = self.first + i
        noisy = self.noisy_maker.batch(step, self.noisy_shard) if self.noisy_maker is not None else None
        if self.maker is None:
            return None, noisy
        if step >= self.late_start:
            return self.late_maker.batch(step, self.late_shard), noisy
        return self.maker.batch(step, self.shard), noisy


def batches(dataset: StepBatches, workers: int, pin: bool):
    """Iterate the batches in step order, made by `workers` processes (0: here, one at a time)."""
    if workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    return iter(torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                                            pin_memory=pin, prefetch_factor=4, worker_init_fn=_one_thread))


def _one_thread(worker_id: int) -> None:
    torch.set_num_threads(1)  # the workers share the cores; one thread each avoids oversubscription


def epoch_steps(examples: list[Example], config: TrainConfig, noisy_pixels: int = 0) -> int:
    """Steps for one epoch: enough patches to cover every training pixel about once (noisy photos
    alone: every pixel once in some sub-image)."""
    pixels = sum(e.clean.shape[0] * e.clean.shape[1] for e in examples)
    if not examples:
        return max(1, round(noisy_pixels / (config.patch**2 * (config.noisy_batch or config.batch))))
    return max(1, round(pixels / (config.patch**2 * config.batch)))
