"""The model card of a training run (RUN/model/README.md), with the run's own measured results."""

from __future__ import annotations

import json

from denoiser.model import count_parameters, macs_per_pixel

from .config import TrainConfig


def render_run_card(model, config: TrainConfig, state: dict, finished: bool) -> str:
    """Markdown with Hub metadata, the recipe, and the last validation scores of this run."""
    history = state.get("history", [])
    last_val = next((e for e in reversed(history) if "val_loss" in e), {})
    scores = {k: v for k, v in last_val.items() if k.startswith(("psnr_", "ssim_"))}
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(scores.items())) or "| (no validation) | |"
    minutes = state.get("seconds", 0.0) / 60
    status = "finished" if finished else "stopped early (resumable)"
    return f"""---
library_name: denoiser
license: other
tags: [image-denoising, autoencoder, pytorch]
pipeline_tag: image-to-image
---

# Denoising autoencoder ({model.config.arch})

Trained with `python -m train` ({status}: {state.get('step', 0)} steps, {minutes:.1f} minutes).

- Parameters: {count_parameters(model) / 1e6:.2f} M; multiply-adds per pixel: {macs_per_pixel(model) / 1e3:.1f} k
- Noise: `{config.noise}` on clean data {list(config.clean)}; real pairs {list(config.pairs)}{_noisy(config)}
- Loss {config.loss}, Adam lr {config.lr:g} ({config.schedule}), batch {config.batch} of {config.patch}x{config.patch} patches{_late(config)}, EMA {config.ema:g}

## Validation (last evaluation of this run, held-out scenes)

| metric | value |
|---|---|
{rows}

![curves](curves.png)
![samples: noisy / reference / denoised](samples.png)

## Use

```python
import denoiser
model = denoiser.load_model("PATH_OR_REPO")
clean = denoiser.denoise(noisy_image, model, sigma=None)  # sigma on the 0-255 scale; None estimates it
```

## Training configuration

```json
{json.dumps(json.loads(config.to_json()), indent=1)}
```
"""


def _late(config: TrainConfig) -> str:
    if not config.late_patch:
        return ""
    return f", then {config.late_patch}x{config.late_patch} for the last {config.late_fraction:.0%} of steps"


def _noisy(config: TrainConfig) -> str:
    if not config.noisy:
        return ""
    return (f"\n- Noisy photos without references (blind-spot objective at pixel-shuffle stride {config.pd_stride}, "
            f"weight {config.noisy_weight:g}): {list(config.noisy)}")
