"""Batches made ahead by worker processes are the same batches, and ImageNet1000 as --val means its
fixed ImageNet-val split."""

import numpy as np
import pytest
import torch

from denoiser.io import write_image
from denoiser_train.data import BatchMaker, Example, NoiseSpec, load_clean
from denoiser_train.batching import StepBatches, batches


def _maker(patch: int = 16) -> BatchMaker:
    rng = np.random.default_rng(0)
    examples = tuple(Example(f"im{i}", f"im{i}", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)) for i in range(3))
    return BatchMaker(examples, NoiseSpec.parse("gaussian:0-50"), patch, ("flip", "rot90", "hue"), False, seed=3)


@pytest.mark.parametrize("workers", [0, 2])
def test_worker_batches_equal_the_in_process_batches_in_step_order(workers):
    maker = _maker()
    late = _maker(32)
    from denoiser_train.self_supervised import NoisyBatchMaker, NoisyImage

    rng = np.random.default_rng(1)
    noisy = NoisyBatchMaker((NoisyImage("n", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)),), patch=8, stride=4)
    dataset = StepBatches(maker, late, late_start=4, shard=range(4), late_shard=range(2), first=1, total=6,
                          noisy_maker=noisy, noisy_shard=range(3))
    got = list(batches(dataset, workers, pin=False))
    assert len(got) == 5
    for step, (batch, blind_spot) in enumerate(got, start=1):
        expected = late.batch(step, range(2)) if step >= 4 else maker.batch(step, range(4))
        for a, b in zip((*batch, *blind_spot), (*expected, *noisy.batch(step, range(3)))):
            assert torch.equal(a, b)
    assert got[-1][0][0].shape == (2, 3, 32, 32)  # the late phase's patch and batch
    assert got[-1][1][0].shape == (3, 3, 8, 8)  # the blind-spot sub-images beside it
    alone = StepBatches(None, None, late_start=6, shard=range(0), late_shard=range(0), first=0, total=2,
                        noisy_maker=noisy, noisy_shard=range(3))
    assert all(sup is None for sup, _ in batches(alone, workers, pin=False))  # noisy photos alone: no supervised batch


def test_imagenet1000_as_val_is_its_held_out_split(tmp_path, held_out_files):
    folder = tmp_path / "ImageNet1000"
    folder.mkdir()
    for i in range(20):
        write_image(folder / f"n{i:03d}.png", np.full((24, 24, 3), i * 10, dtype=np.uint8))
    held_out_files([folder / "n000.png", folder / "n010.png"])
    train, val = load_clean(folder, 3, 8), load_clean(folder, 3, 8, split="val")
    assert sorted(e.name for e in val) == ["n000.png", "n010.png"]  # the manifest's files
    assert len(train) == 18 and not {e.name for e in train} & {e.name for e in val}
    other = tmp_path / "photos"
    other.mkdir()
    write_image(other / "a.png", np.zeros((24, 24, 3), dtype=np.uint8))
    assert len(load_clean(other, 3, 8, split="val")) == 1  # a folder without a fixed split: all of it
    with pytest.raises(ValueError, match="split"):
        load_clean(folder, 3, 8, split="test")
