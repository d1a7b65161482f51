"""A card's training command names the files a run started from: each --init source's SHA-256, and a
bare shipped name pinned to the git revision whose weights have it, so the command rebuilds them."""

import hashlib
import json
import subprocess

import pytest

from benchmarks.report_training import training_section
from denoiser_train.init_sources import REPO

WEIGHTS = "denoiser/weights/gaussian/model.safetensors"


def _stage(folder, init, recorded=None):
    config = {"clean": ["data/CBSD432"], "noise": "gaussian:0-75", "preset": "photo", "loss": "l1", "lr": 0.001,
              "min_lr": 1e-5, "warmup": 0, "clip_grad": 0, "ema": 0, "batch": 8, "patch": 64, "late_patch": 0,
              "late_fraction": 0, "steps": 10, "threads": 2, "seed": 0, "init": init}
    (folder / "train_config.json").write_text(json.dumps(config))
    (folder / "log.json").write_text(json.dumps([{"step": 10, "seconds": 60.0}]))
    if recorded is not None:
        (folder / "init_sources.json").write_text(json.dumps(recorded))


def test_a_shipped_name_is_pinned_to_the_revision_of_the_file_it_read(tmp_path):
    log = subprocess.run(["git", "-C", str(REPO), "log", "--format=%H", "--", WEIGHTS], capture_output=True, text=True)
    revisions = log.stdout.split()
    if len(revisions) < 2:
        pytest.skip("needs a clone with the history of the shipped gaussian weights")
    oldest = revisions[-1]
    blob = subprocess.run(["git", "-C", str(REPO), "show", f"{oldest}:{WEIGHTS}"], capture_output=True).stdout
    sha = hashlib.sha256(blob).hexdigest()
    _stage(tmp_path, ["gaussian", "/runs/x/model"], {"gaussian": sha, "/runs/x/model": "ab" * 32})
    text = "\n".join(training_section(tmp_path, "", "photo"))
    assert f"--init gaussian@{oldest[:12]} /runs/x/model" in text
    assert f"`gaussian@{oldest[:12]}` (`{sha}`)" in text and f"`/runs/x/model` (`{'ab' * 32}`)" in text


def test_an_unknown_file_keeps_the_name_with_its_hash_and_an_unrecorded_one_says_so(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    _stage(tmp_path / "a", ["gaussian"], {"gaussian": "cd" * 32})  # a file no revision holds
    text = "\n".join(training_section(tmp_path / "a", "", "photo"))
    assert "--init gaussian --" in text and "--init gaussian@" not in text and f"`gaussian` (`{'cd' * 32}`)" in text
    _stage(tmp_path / "b", ["gaussian"])
    assert "Not recorded for `gaussian`" in "\n".join(training_section(tmp_path / "b", "", "photo"))
