"""--init NAME@REVISION reads the shipped weights as they were at a git revision of this repository,
so a card's training command rebuilds what shipped after the name has moved on."""

import hashlib
import subprocess

import pytest

from denoiser_train.init_sources import REPO, at_revision, load_source, resolved

WEIGHTS = "denoiser/weights/gaussian/model.safetensors"


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, timeout=60)


def _oldest_gaussian_revision() -> str:
    log = _git("log", "--format=%H", "--", WEIGHTS)
    revisions = log.stdout.decode().split() if log.returncode == 0 else []
    if len(revisions) < 2:
        pytest.skip("needs a clone with the history of the shipped gaussian weights")
    return revisions[-1]


def test_name_at_revision_is_recognised_and_nothing_else(tmp_path):
    assert at_revision("gaussian@9304e11") == ("gaussian", "9304e11")
    assert at_revision("photo@HEAD~3") == ("photo", "HEAD~3")
    for other in ("gaussian", "owner/model@main", "not-shipped@abc", "gaussian@"):
        assert at_revision(other) is None, other
    folder = tmp_path / "gaussian@v1"
    folder.mkdir()
    assert at_revision(str(folder)) is None  # a folder is a folder


def test_the_weights_are_those_of_that_revision_and_their_hash_is_recorded():
    revision = _oldest_gaussian_revision()
    then = _git("show", f"{revision}:{WEIGHTS}").stdout
    now = (REPO / WEIGHTS).read_bytes()
    assert then != now, "the shipped gaussian weights have changed since their first revision"
    with resolved(f"gaussian@{revision}") as folder:
        assert (REPO / WEIGHTS).parent != folder
        assert open(f"{folder}/model.safetensors", "rb").read() == then
    model, sha = load_source(f"gaussian@{revision[:9]}")
    assert sha == hashlib.sha256(then).hexdigest() != hashlib.sha256(now).hexdigest()
    assert sum(p.numel() for p in model.parameters()) > 0


def test_an_unknown_revision_is_an_error_naming_the_source():
    with pytest.raises(ValueError, match="--init gaussian@no-such-rev: no denoiser/weights/gaussian/config.json"):
        load_source("gaussian@no-such-rev")
