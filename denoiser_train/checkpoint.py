"""Crash-safe training checkpoints, without pickle.

A checkpoint is a folder RUN/checkpoints/step-NNNNNNN/ holding model.safetensors + config.json
(a loadable weights folder), optimizer.safetensors, optional ema.safetensors, and state.json.
It is written under a temporary name, every file and the folder fsynced, and renamed when complete
(the rename fsynced too); then RUN/checkpoints/latest (a one-line file, itself replaced atomically)
is pointed at it. A checkpoint of a step that already has one (a resumed run replaying it) replaces
it without a moment when neither exists: the old one is renamed aside, the new one renamed in, and
only then is the old one deleted; `find_checkpoint` falls back to the one set aside. A kill or a
power loss at any moment leaves `latest` naming a complete checkpoint. The two newest are kept, plus the one RUN/checkpoints/best
names (lowest validation loss so far), so a run that later diverges still has its best state:
`python -m train --resume RUN --from-checkpoint best` continues from there.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from denoiser.files import atomic_write, atomic_write_text, fsync_directory
from denoiser.hub import save_model, unwrap

KEEP = 2


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run: Path, step: int, model, optimizer, ema, state: dict, best: bool = False) -> Path:
    """Write a complete checkpoint for `step` and point `latest` (and, if `best`, `best`) at it."""
    folder = run / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:07d}"
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".step-{step:07d}."))
    try:
        _write_files(tmp, step, model, optimizer, ema, state)
        _durable_rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    _write_pointer(folder / "latest", final.name)
    if best:
        _write_pointer(folder / "best", final.name)
    protected = (folder / "best").read_text().strip() if (folder / "best").is_file() else None
    for old in sorted(p for p in folder.glob("step-*") if p.is_dir())[:-KEEP]:
        if old.name != protected:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _write_files(tmp: Path, step: int, model, optimizer, ema, state: dict) -> None:
    """Every file of the checkpoint into `tmp`, each fsynced, then `tmp` itself."""
    save_model(model, tmp)
    tensors, meta = _flatten_optimizer(optimizer)
    save_file(tensors, tmp / "optimizer.safetensors")
    if ema is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in unwrap(ema).state_dict().items()}, tmp / "ema.safetensors")
    (tmp / "state.json").write_text(json.dumps({**state, "step": step, "optimizer": meta}, indent=1))
    for path in tmp.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    fsync_directory(tmp)


def _durable_rename(tmp: Path, final: Path) -> None:
    """Rename the complete `tmp` to `final` and fsync their folder. An existing `final` is renamed
    aside first and deleted last, so a crash in between leaves one complete checkpoint to find."""
    aside = _aside(final)
    if aside.exists() and final.exists():  # left by an earlier crash after `final` was in place
        shutil.rmtree(aside)
    elif aside.exists():  # a crash between the two renames: the one set aside is the checkpoint
        os.replace(aside, final)
    if final.exists():
        os.replace(final, aside)
        fsync_directory(final.parent)
    os.replace(tmp, final)
    fsync_directory(final.parent)
    if aside.exists():
        shutil.rmtree(aside)


def _aside(final: Path) -> Path:
    return final.with_name(f".{final.name}.replaced")


def _write_pointer(path: Path, name: str) -> None:
    atomic_write_text(path, name + "\n")


def find_checkpoint(run: Path, which: str = "latest") -> Path | None:
    """The checkpoint folder `which` names: "latest", "best" (pointer files) or a folder name such
    as step-0002000. None for a run without checkpoints (when asking for "latest")."""
    root = run / "checkpoints"
    if which.startswith("step-"):
        if not (root / which / "state.json").is_file():
            raise FileNotFoundError(f"{root / which}: no such complete checkpoint")
        return root / which
    pointer = root / which
    if not pointer.is_file():
        if which == "latest":
            return None
        raise FileNotFoundError(f"{pointer}: this run has no {which!r} checkpoint")
    folder = root / pointer.read_text().strip()
    if not folder.exists() and (_aside(folder) / "state.json").is_file():  # a crash while replacing it
        return _aside(folder)
    if not (folder / "state.json").is_file():
        raise FileNotFoundError(f"{pointer} names {folder.name}, which is missing or incomplete")
    return folder


def load_checkpoint(folder: Path, model, optimizer, ema) -> dict:
    """Restore model, optimizer and EMA in place; return the saved state (step, history, ...)."""
    state = json.loads((folder / "state.json").read_text())
    unwrap(model).load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    optimizer.load_state_dict(_unflatten_optimizer(load_file(folder / "optimizer.safetensors"), state.pop("optimizer")))
    if ema is not None:
        unwrap(ema).load_state_dict(load_file(folder / "ema.safetensors"), strict=True)
    return state


def anchor_weights(run: Path, model, anchor: float, resume: bool, is_main: bool, world: int) -> dict[str, torch.Tensor]:
    """With --anchor, the trainable weights the run started from, by name: saved as RUN/anchor.safetensors
    when the run starts, read back on resume, so the pull is always towards the same weights."""
    if not anchor:
        return {}
    path = run / "anchor.safetensors"
    if not path.is_file():
        if resume:
            raise FileNotFoundError(f"{path}: missing; the run's --anchor needs the weights it started from")
        start = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
        if is_main:
            atomic_write(path, lambda tmp: save_file(start, tmp))
        if world > 1:
            torch.distributed.barrier()
    device = next(model.parameters()).device
    return {n: t.to(device) for n, t in load_file(path).items()}
