"""What a run leaves behind: log.csv / log.json, curves.png, samples.png and the exported model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from denoiser.files import atomic_write_text
from denoiser.hub import save_model, unwrap

from .card import render_run_card
from .config import TrainConfig


def write_logs(run: Path, history: list[dict]) -> None:
    """Rewrite RUN/log.csv and RUN/log.json from the full history (so a resumed run has no duplicates)."""
    columns = list(dict.fromkeys(k for entry in history for k in entry))
    lines = [",".join(columns)] + [",".join(_cell(e.get(c)) for c in columns) for e in history]
    atomic_write_text(run / "log.csv", "\n".join(lines) + "\n")
    atomic_write_text(run / "log.json", json.dumps(history, indent=1) + "\n")


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def plot_curves(history: list[dict], path: Path) -> None:
    """Train vs validation loss, and validation PSNR, against the step (the paper's cost figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [e["step"] for e in history]
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(steps, [e["train_loss"] for e in history], label="train")
    val = [(e["step"], e["val_loss"]) for e in history if "val_loss" in e]
    if val:
        ax_loss.plot(*zip(*val), "o-", label="validation")
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title="loss")
    ax_loss.legend()
    for key in sorted({k for e in history for k in e if k.startswith("psnr_")}):
        points = [(e["step"], e[key]) for e in history if key in e]
        ax_psnr.plot(*zip(*points), "o-", label=key.replace("psnr_", "sigma ") if key != "psnr_real" else "real pairs")
    ax_psnr.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR")
    if ax_psnr.lines:
        ax_psnr.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def sample_strip(model, val_examples, config: TrainConfig, path: Path, count: int = 3) -> None:
    """Noisy / reference / denoised crops for a few validation images (the paper's output figure)."""
    from denoiser.evaluate import awgn
    from denoiser.inference import denoise
    from denoiser.io import write_image

    rows = []
    sigma = config.val_sigmas[len(config.val_sigmas) // 2] if config.val_sigmas else 25
    for index, example in enumerate(val_examples[:count]):
        clean = example.clean[:192, :192]
        if example.noisy is not None:
            noisy, given = example.noisy[:192, :192], None
        else:
            noisy, given = awgn(clean, sigma, config.seed, index), sigma
        if not unwrap(model).config.noise_map:  # a blind network (the seed) takes no noise level
            given = None
        out = denoise(noisy, unwrap(model), sigma=given)
        row = [_to8(noisy), _to8(clean), _to8(out)]
        rows.append(np.concatenate(row, axis=1))
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
        write_image(path, np.concatenate(rows, axis=0))


def _to8(image: np.ndarray) -> np.ndarray:
    """Any image (float [0, 1], uint8, uint16; gray or colour) as 8-bit RGB for a figure."""
    from denoiser.io import from_float

    image = image if image.ndim == 3 else image[..., None]
    image = from_float(np.clip(image, 0, 1), np.uint8) if image.dtype.kind == "f" else image
    image = (image // 257).astype(np.uint8) if image.dtype == np.uint16 else image
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]


def export_run(run: Path, model, config: TrainConfig, state: dict, finished: bool, val_examples: list) -> Path:
    """Write RUN/model/: config.json, model.safetensors, README.md (model card), curves and samples."""
    folder = run / "model"
    save_model(unwrap(model), folder)
    history = state.get("history", [])
    if history:
        plot_curves(history, folder / "curves.png")
    sample_strip(model, val_examples, config, folder / "samples.png")
    atomic_write_text(folder / "README.md", render_run_card(unwrap(model), config, state, finished))
    return folder
