"""Checkpoints survive a power loss: every file and the folder are fsynced before the rename, the
rename is fsynced, and replacing a step's checkpoint never leaves a moment with none."""

import json
import os
import stat

import pytest
import torch

from denoiser.model import build_model
from denoiser_train import checkpoint

from conftest import tiny_config


def _save(run, step, state):
    model = build_model(tiny_config())
    return checkpoint.save_checkpoint(run, step, model, torch.optim.Adam(model.parameters()), None, state)


def test_files_and_folder_are_fsynced_before_the_rename_and_the_rename_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync-dir" if stat.S_ISDIR(info.st_mode) else "fsync-file", info.st_ino))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("rename", os.stat(src).st_ino, str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    final = _save(tmp_path, 3, {"history": []})
    rename = next(i for i, e in enumerate(events) if e[0] == "rename" and e[2] == str(final))
    synced_before = {e[1] for e in events[:rename] if e[0].startswith("fsync")}
    assert {os.stat(p).st_ino for p in final.iterdir()} <= synced_before  # every file of it
    files = {os.stat(p).st_ino for p in final.iterdir()}
    last_file = max(i for i, e in enumerate(events[:rename]) if e[0] == "fsync-file" and e[1] in files)
    assert ("fsync-dir", events[rename][1]) in events[last_file:rename]  # then the folder itself
    pointer = next(i for i, e in enumerate(events) if i > rename and e[0] == "rename")  # `latest` written next
    assert ("fsync-dir", os.stat(final.parent).st_ino) in events[rename + 1:pointer]  # the rename, durable first


def test_replacing_a_checkpoint_keeps_one_through_a_crash(tmp_path, monkeypatch):
    """A resumed run re-saves a step it already has. Killed between setting the old one aside and
    renaming the new one in, the run still finds a complete checkpoint (the old one)."""
    _save(tmp_path, 5, {"history": [], "tag": "old"})
    real_replace = os.replace

    def dies_renaming_the_new_one_in(src, dst):
        new_one = os.path.basename(src).startswith(".step-0000005.") and not str(src).endswith(".replaced")
        if new_one and os.path.basename(dst) == "step-0000005":
            raise KeyboardInterrupt("power loss")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dies_renaming_the_new_one_in)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 5, {"history": [], "tag": "new"})
    monkeypatch.undo()
    found = checkpoint.find_checkpoint(tmp_path)
    assert json.loads((found / "state.json").read_text())["tag"] == "old"
    # the next save puts things right and replaces it
    final = _save(tmp_path, 5, {"history": [], "tag": "newer"})
    assert checkpoint.find_checkpoint(tmp_path) == final
    assert json.loads((final / "state.json").read_text())["tag"] == "newer"
    assert [p.name for p in final.parent.iterdir() if p.name.startswith(".")] == []
