"""What the trainer optimises: the learning-rate schedule, the denoising loss and the estimator's loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import TrainConfig


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    """The schedule as a pure function of the step (so resuming needs no scheduler state)."""
    if config.warmup and step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(step / max(total, 1), 1.0)
    if config.schedule == "cosine":
        return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))
    if config.schedule == "step":  # x0.1 at 60% and again at 85% of training
        return config.lr * (0.1 ** ((progress >= 0.6) + (progress >= 0.85)))
    return config.lr


def loss_fn(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(output, target)
    if kind == "l1":
        return F.l1_loss(output, target)
    return torch.sqrt((output - target) ** 2 + 1e-6).mean()  # charbonnier


def estimator_loss(estimate: torch.Tensor, target: torch.Tensor, under_weight: float = 0.7) -> torch.Tensor:
    """CBDNet's asymmetric loss: squared error, with under-estimates weighted `under_weight` and
    over-estimates 1 - under_weight. Too low a noise map leaves noise in; too high only smooths a
    little more, which the strength control can undo. The error is taken on log(std + 0.5/255), so a
    factor of 2 counts the same at sigma 3 as at sigma 50. NaN targets (no known level) are left out."""
    known = torch.isfinite(target)
    if not known.any():
        return estimate.sum() * 0  # keeps the graph (and DDP's gradient hooks) whole
    error = torch.log(estimate[known] + 0.5 / 255) - torch.log(target[known] + 0.5 / 255)
    weight = torch.where(error < 0, under_weight, 1 - under_weight)
    return (weight * error.pow(2)).mean()
