"""What the trainer optimises: the learning-rate schedule, the step's loss (supervised, blind-spot and the
L2-SP anchor terms) and the estimator's loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from denoiser.model import image_level

from .config import TrainConfig
from .self_supervised import blind_spot_loss


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


def step_loss(wrapped, config: TrainConfig, supervised, blind_spot, device: torch.device) -> torch.Tensor:
    """The step's loss: the supervised term (weight 1) plus --noisy-weight times the blind-spot term."""
    loss = None
    if supervised is not None:
        loss = supervised_loss(wrapped, config, *(t.to(device, non_blocking=True) for t in supervised))
    if blind_spot is not None:
        hidden, target, mask = (t.to(device, non_blocking=True) for t in blind_spot)
        term = blind_spot_loss(wrapped, hidden, target, mask, config.loss, config.noisy_level)
        loss = config.noisy_weight * term if loss is None else loss + config.noisy_weight * term
    return loss


def supervised_loss(wrapped, config: TrainConfig, noisy, clean, sigma_map) -> torch.Tensor:
    """The supervised term. With an estimator and --level other than true, the denoiser takes the estimate
    and its loss reaches the estimator; with true, the denoiser learns from the true map and the
    estimator to predict it."""
    network = wrapped.module if hasattr(wrapped, "module") else wrapped
    if getattr(network, "estimator", None) is None:
        return loss_fn(config.loss, wrapped(noisy, sigma_map), clean)
    level = config.denoiser_level
    if level == "checked":  # white samples their true std (a finite map), the others the frozen estimate's median
        with torch.no_grad():
            estimated = image_level(network.estimator(noisy)).expand_as(sigma_map)
        return loss_fn(config.loss, wrapped(noisy, torch.where(sigma_map.isnan(), estimated, sigma_map)), clean)
    if level != "true":
        output, estimate = wrapped(noisy, None, return_estimate=True, per_image=level == "image")
    else:
        output, estimate = wrapped(noisy, sigma_map, return_estimate=True)
    return loss_fn(config.loss, output, clean) + config.estimator_loss * estimator_loss(estimate, sigma_map)


def anchor_penalty(model, anchor: dict[str, torch.Tensor], weight: float) -> torch.Tensor | float:
    """--anchor's L2-SP term: weight times the squared distance of the weights from where the run started."""
    if not anchor:
        return 0.0
    return weight * sum((p - anchor[n]).pow(2).sum() for n, p in model.named_parameters() if n in anchor)
