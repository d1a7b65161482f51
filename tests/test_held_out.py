"""The ImageNet-val split is recognised by its files' content (a manifest of SHA-256 shipped in the
package), not by the name of the folder: read through a parent folder, a symlink with another name,
or as renamed copies, its images are still never trained on."""

import json
import os

import numpy as np
import pytest

from denoiser.evaluate import evaluate
from denoiser.io import list_images, write_image
from denoiser.splits import HELD_OUT_MANIFESTS, held_out
from denoiser_train.data import load_clean

from conftest import DATA


@pytest.fixture
def imagenet(tmp_path, held_out_files):
    """data/train/ImageNet1000 with 20 images, two of them the held-out split."""
    folder = tmp_path / "data" / "train" / "ImageNet1000"
    for i in range(20):
        write_image(folder / f"n{i:03d}.png", np.full((24, 24 + i, 3), i * 10, dtype=np.uint8))
    held_out_files([folder / "n000.png", folder / "n010.png"])
    return folder


def _trained_on(folder) -> set[str]:
    return {os.path.basename(e.name) for e in load_clean(folder, 3, 8)}


def test_the_parent_folder_still_holds_them_out(imagenet):
    assert _trained_on(imagenet.parent) == {f"n{i:03d}.png" for i in range(20)} - {"n000.png", "n010.png"}


def test_a_symlink_with_another_name_still_holds_them_out(imagenet, tmp_path):
    link = tmp_path / "photos"
    link.symlink_to(imagenet, target_is_directory=True)
    assert "n000.png" not in _trained_on(link) and len(_trained_on(link)) == 18
    assert sorted(os.path.basename(e.name) for e in load_clean(link, 3, 8, split="val")) == ["n000.png", "n010.png"]
    assert evaluate("noisy", clean=link, split="val", sigmas=(25,))[0].n == 2
    assert evaluate("noisy", clean=link, split="train", sigmas=(25,))[0].n == 18


def test_renamed_copies_are_held_out_and_other_images_are_not(imagenet, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "renamed.png").write_bytes((imagenet / "n010.png").read_bytes())
    write_image(other / "mine.png", np.full((24, 30, 3), 7, dtype=np.uint8))
    assert held_out(list_images(other)) == {other / "renamed.png"}


def test_the_shipped_manifest_is_imagenet1000s_every_tenth_file():
    files = json.loads(HELD_OUT_MANIFESTS["ImageNet-val"].read_text())["files"]
    assert len(files) == 100 and len({f["sha256"] for f in files}) == 100
    folder = DATA / "train" / "ImageNet1000"
    if not folder.is_dir():
        pytest.skip("ImageNet1000 is not in this checkout's data folder")
    paths = list_images(folder)
    assert len(paths) == 1000
    assert held_out(paths) == set(sorted(paths, key=lambda p: p.name)[::10])
