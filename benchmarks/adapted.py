"""The *adapted* protocol of the photo card: a model fine-tuned by `denoiser adapt` on a test set's own noisy
images (never its references), then scored on that set, as self-supervised papers report it. Every other
row of the card is *blind*: the model never saw the test images.

A report is given the adapt runs (`--adapted RUN`); each run's train_config.json says which folder and
split it adapted on, so the row lands in that set's table and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ADAPTED_PREFIX = "adapted: "  # how an adapted model's rows are told apart in results.json


@dataclass(frozen=True)
class AdaptedRun:
    """An adapt run: its folder, the pairs folder and split it adapted on, its steps and minutes."""

    folder: Path
    adapted_on: Path
    split: str
    steps: int
    minutes: float
    source: str

    @property
    def label(self) -> str:
        return (f"{ADAPTED_PREFIX}{self.source} adapted on these {self.split_words}noisy images "
                f"({self.steps} steps, {self.minutes:.1f} min, `denoiser adapt`)")

    @property
    def split_words(self) -> str:
        return "" if self.split == "all" else f"{self.split}-split "

    def section(self, data: Path) -> str | None:
        """The photo card's table this run belongs to: sidd12 (all of SIDD12), polyu (PolyU's test split)."""
        where = self.adapted_on.resolve()
        if where == (data / "real" / "SIDD12").resolve() and self.split == "all":
            return "sidd12"
        if where == (data / "real" / "PolyU").resolve() and self.split == "test":
            return "polyu"
        return None


def read_adapted_run(folder: str | Path) -> AdaptedRun:
    """The facts of an adapt run folder; ValueError where it is not one."""
    folder = Path(folder)
    try:
        config = json.loads((folder / "train_config.json").read_text())
        history = json.loads((folder / "log.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--adapted {folder}: not a finished adapt run ({err})") from None
    noisy = config.get("noise_from") or config.get("noisy") or []  # measured noise, or the blind-spot objective
    if len(noisy) != 1 or config.get("pairs") or (config.get("noisy") and config.get("noise_from")):
        raise ValueError(f"--adapted {folder}: not an adapt run (it must learn from one noisy folder)")
    inside = [c for c in config.get("clean", []) if Path(noisy[0]).resolve() in (Path(c).resolve(), *Path(c).resolve().parents)
              or Path(c).resolve() in Path(noisy[0]).resolve().parents]
    if inside:
        raise ValueError(f"--adapted {folder}: its clean photos {inside} overlap the folder it adapted to")
    last = history[-1] if history else {}
    return AdaptedRun(folder, Path(noisy[0]), config.get("noisy_split", "all"), int(last.get("step", 0)),
                      float(last.get("seconds", 0.0)) / 60, ", ".join(config.get("init", [])) or "a fresh model")


def adapted_models(folders: tuple[str, ...], data: Path) -> list[tuple[str, object]]:
    """[(section, model named by its label)] for the --adapted runs; a run on another set is an error."""
    from denoiser.hub import load_model

    models = []
    for folder in folders:
        run = read_adapted_run(folder)
        section = run.section(data)
        if section is None:
            raise ValueError(f"--adapted {folder}: adapted on {run.adapted_on} (split {run.split}); the card reports "
                             f"adaptation on {data / 'real' / 'SIDD12'} (all) or {data / 'real' / 'PolyU'} (test)")
        model = load_model(run.folder)
        model.name = run.label
        models.append((section, model))
    return models


def protocol(method: str) -> str:
    """The protocol column of a real-noise table row."""
    return "adapted" if method.startswith(ADAPTED_PREFIX) else "blind"
