"""How a shipped model was trained, for its card and the README: the commands (from each stage's
train_config.json), steps and minutes (from log.json) and the checkpoint that shipped."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

from denoiser.files import atomic_write_text
from denoiser_train.config import TrainConfig

from .init_pins import init_sources, pin

# The training options the card's command shows (the rest do not change the weights), and the
# optional ones with the setting that switches each on (shown only when it is set).
COMMAND_KEYS = ("noise", "preset", "loss", "lr", "min_lr", "warmup", "clip_grad", "ema", "batch", "patch",
                "late_patch", "late_fraction", "steps", "threads", "seed")
OPTIONAL_KEYS = {"clip_grad": "clip_grad", "late_patch": "late_patch", "late_fraction": "late_patch"}


def training_budget(weights_dir: Path, command_out: str | None = None) -> dict | None:
    """Steps and minutes from the training log shipped beside a model's weights, if there is one;
    with `command_out`, also the command that trained it (writing to that run folder)."""
    log_path = weights_dir / "log.json"
    if not log_path.is_file():
        return None
    last = json.loads(log_path.read_text())[-1]
    budget = {"steps": last["step"], "minutes": last["seconds"] / 60}
    config_path = weights_dir / "train_config.json"
    if command_out and config_path.is_file():
        budget["command"] = training_command(json.loads(config_path.read_text()), command_out)
    return budget


# Options that do not change the weights (or name where they go), left out of a card's command.
# workers and max_minutes leave the weights alone too: batches are a pure function of the step, and a
# run stopped by its time budget and resumed trains exactly as one uninterrupted run.
NOT_IN_COMMAND = ("out", "resume", "from_checkpoint", "push_to_hub", "private", "revision", "log_every",
                  "checkpoint_every", "workers", "max_minutes")


def training_command(config: dict, out: str) -> str:
    """The `python -m train` command line that reproduces a run, from its train_config.json: the
    data, then the core recipe (always shown), then every other option that differs from its default."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    args = []
    for key in ("clean", "pairs"):
        if config.get(key):
            args.append(f"--{key} " + " ".join(config[key]))
    shown = [k for k in COMMAND_KEYS if k not in OPTIONAL_KEYS or config.get(OPTIONAL_KEYS[k])]
    shown += [k for k in defaults if k not in shown and k not in ("clean", "pairs", *NOT_IN_COMMAND)
              and k in config and _plain(config[k]) != _plain(defaults[k])]
    for key in shown:
        value = config[key]
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{key.replace('_', '-')}")
        elif isinstance(value, (list, tuple)):
            args.append(f"{flag} " + " ".join(str(v) for v in value))
        else:
            args.append(f"{flag} {_quote(value)}")
    return "python -m train " + " ".join(args) + f" --out {out}"


def _plain(value):
    """A setting as compared with its default: tuples as lists, and no value as an empty list (a run
    from before --init took several sources wrote init null, as the default () means)."""
    return [] if value is None else list(value) if isinstance(value, tuple) else value


def _quote(value) -> str:
    return shlex.quote(str(value))


def training_stages(weights_dir: Path, name: str) -> list[dict]:
    """The runs that made a shipped model, oldest first: {"command", "steps", "minutes", "threads"}.
    A model fine-tuned in stages keeps each earlier run's train_config.json and log.json in
    `stages/<k>/`; a stage's --init then points at the previous stage's exported model."""
    folders = sorted((p for p in (weights_dir / "stages").glob("*") if p.is_dir()), key=lambda p: p.name)
    folders.append(weights_dir)
    stages, previous_out = [], None
    for index, folder in enumerate(folders):
        config_path = folder / "train_config.json"
        if not config_path.is_file():
            continue
        config = json.loads(config_path.read_text())
        sources = init_sources(folder, config)
        if sources:  # each source as it was read: shipped names pinned to their revision
            config["init"] = list(sources)
        if previous_out and config.get("init"):
            config["init"] = f"{previous_out}/model"  # the exported model of the stage before
        out = f"runs/{name}" if folder == weights_dir else f"runs/{name}-stage{index + 1}"
        budget = training_budget(folder) or {}
        selected = json.loads((folder / "selected.json").read_text()) if (folder / "selected.json").is_file() else None
        stages.append({"command": training_command(config, out), "steps": budget.get("steps"),
                       "minutes": budget.get("minutes"), "threads": config.get("threads") or "default",
                       "selected": selected, "export": export_command(selected, out, name),
                       "on_gpu": config.get("device") == "cuda", "init_sources": sources})
        previous_out = out
    return stages


def export_command(selected: dict | None, out: str, name: str) -> str | None:
    """The `train export` that shipped a chosen checkpoint or an average with the starting weights."""
    if not selected:
        return None
    words = ["python", "-m", "train", "export", out, f"denoiser/weights/{name}"]
    if selected["checkpoint"] != "final":
        words += ["--checkpoint", selected["checkpoint"]]
    if "wise" in selected:
        words += ["--wise", f"{selected['wise']:g}"]
    return shlex.join(words)


def _where(stage: dict) -> str:
    return "on a GPU (`--device cuda`)" if stage["on_gpu"] else f"on this machine ({stage['threads']} CPU thread(s))"


def training_section(weights_dir: Path, assets: str, name: str = "gaussian") -> list[str]:
    stages = training_stages(weights_dir, name)
    if not stages:
        return []
    lines = ["", "## Training", ""]
    for i, stage in enumerate(stages):
        if len(stages) > 1:
            lines.append(f"Stage {i + 1} of {len(stages)}:" + ("" if stage["steps"] is None else
                         f" {stage['steps']} steps in {stage['minutes']:.0f} minutes {_where(stage)}."))
        elif stage["steps"] is not None:
            lines.append(f"{stage['steps']} steps in {stage['minutes']:.0f} minutes {_where(stage)}.")
        lines += ["", "```bash", stage["command"], "```", ""]
        lines += _init_lines(stage["init_sources"])
        if stage.get("selected"):
            lines += _selected_lines(stage["selected"], stage["export"])
    lines += [f"![training curves]({assets}curves.png)", "", f"![noisy / reference / denoised]({assets}samples.png)"]
    return lines


def _selected_lines(chosen: dict, export: str) -> list[str]:
    """What of the run shipped: a chosen checkpoint, and/or its average with the weights it started from."""
    if chosen["checkpoint"] == "final":
        what = "that run's final weights"
    else:
        why = ", the one with the lowest validation loss" if chosen["checkpoint"] == "best" else ""
        what = f"the `{chosen['checkpoint']}` checkpoint of that run (step {chosen['step']}, {chosen['weights']} weights){why}"
    if "wise" in chosen:
        start = pin(chosen["start"], chosen.get("start_sha256"))
        what += (f", averaged with the weights it started from: {chosen['wise']:g} x these + {1 - chosen['wise']:g} x "
                 f"`{start}` (weight-space ensembling, WiSE-FT: Wortsman et al., CVPR 2022)")
    return [f"Shipped: {what}:", "", "```bash", export, "```", ""]


def _init_lines(sources: dict[str, str | None]) -> list[str]:
    if not sources:
        return []
    known = [f"`{source}` (`{sha}`)" for source, sha in sources.items() if sha]
    unknown = [f"`{source}`" for source, sha in sources.items() if not sha]
    lines = ["Started from (SHA-256 of each `--init` model.safetensors): " + ", ".join(known) + "." if known else ""]
    if unknown:
        lines.append("Not recorded for " + ", ".join(unknown) + " (trained before runs recorded the files they started from).")
    return [line for line in lines if line] + [""]


README_COMMANDS = ("<!-- training-commands:start -->", "<!-- training-commands:end -->")


def training_commands_block(models: dict[str, Path]) -> str:
    """The README's block of the commands that trained each shipped model (from their configs)."""
    lines = ["```bash"]
    for name, folder in models.items():
        for i, stage in enumerate(training_stages(folder, name)):
            lines.append(f"# {name}" + (f", stage {i + 1}" if (folder / "stages").is_dir() else "")
                         + ("" if stage["steps"] is None else f": {stage['steps']} steps, {stage['minutes']:.0f} min")
                         + (" on a GPU" if stage["on_gpu"] else ""))
            lines.append(stage["command"])
            if stage["export"] and "wise" in stage["selected"]:
                lines.append(stage["export"])
    return "\n".join(lines + ["```"])


def write_readme_block(readme: Path, block: str, markers: tuple[str, str] = README_COMMANDS) -> None:
    """Replace the text between `markers` (default: the training-commands ones) of `readme` with `block`."""
    text = readme.read_text()
    start, end = markers
    if start not in text or end not in text:
        raise ValueError(f"{readme}: no {start} ... {end} markers to write between")
    head, rest = text.split(start, 1)
    atomic_write_text(readme, head + start + "\n" + block + "\n" + end + rest.split(end, 1)[1])
