"""`python -m benchmarks report --compare`: a model named so that any clone can rerun the recorded
command (NAME@REVISION, the shipped weights at a git revision), labelled as the card's row says."""

import subprocess

import pytest
import torch

from benchmarks.recorder import compared_models
from denoiser.hub import save_model
from denoiser_train.init_sources import REPO

from test_init_sources import _oldest_gaussian_revision


def test_compare_takes_name_at_revision_with_a_label_and_folders_by_their_name(tmp_path, tiny_model_dir):
    revision = _oldest_gaussian_revision()
    (old,) = compared_models((f"gaussian-v1=gaussian@{revision[:10]}",))
    assert old.name == "gaussian-v1"
    then = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:denoiser/weights/gaussian/model.safetensors"],
                          capture_output=True, check=True).stdout
    save_model(old, tmp_path / "reloaded")
    from safetensors.torch import load, load_file

    expected, got = load(then), load_file(tmp_path / "reloaded" / "model.safetensors")
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)

    (unlabelled,) = compared_models((f"gaussian@{revision[:10]}",))
    assert unlabelled.name == f"gaussian@{revision[:10]}"
    (folder,) = compared_models((str(tiny_model_dir),))
    assert folder.name == tiny_model_dir.name  # a folder: its own name, not its full path
    with pytest.raises(ValueError, match="no denoiser/weights/gaussian"):
        compared_models(("old=gaussian@0000000000000000000000000000000000000000",))
