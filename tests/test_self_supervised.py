"""Learning from noisy photos alone: the blind-spot objective, `train --noisy` and `denoiser adapt`."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from denoiser.io import write_image
from denoiser.model import build_model
from denoiser_train.noisy_folders import noisy_paths
from denoiser_train.self_supervised import NoisyBatchMaker, NoisyImage, blind_spot_loss, hide, mask_grid

from conftest import data_dir, tiny_config

ROOT = Path(__file__).resolve().parents[1]


def correlated_noisy(rng: np.random.Generator, size: int = 120) -> np.ndarray:
    """A smooth image with noise correlated over ~2 px (white noise blurred), as a camera's would be."""
    yy, xx = np.mgrid[:size, :size] / size
    clean = np.stack([0.5 + 0.3 * np.sin(6 * xx), 0.4 + 0.3 * yy, 0.5 + 0.2 * np.cos(5 * yy)], axis=2)
    white = rng.normal(0, 0.12, (size + 2, size + 2, 3))
    noise = (white[:-2, :-2] + white[1:-1, 1:-1] + white[2:, 2:] + white[1:-1, :-2] + white[:-2, 1:-1]) / 5
    return np.clip(np.rint((clean + noise) * 255), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def noisy_folder(tmp_path_factory) -> Path:
    """noisy/ with four correlated-noise photos and gt/ with files that must never be opened."""
    root = tmp_path_factory.mktemp("noisy-photos")
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(root / "noisy" / f"p{i}.png", correlated_noisy(rng))
        (root / "gt").mkdir(exist_ok=True)
        (root / "gt" / f"p{i}.png").write_bytes(b"never read")
    (root / "tiny.json").write_text(tiny_config(estimator=True).to_json())
    return root


def test_hidden_input_does_not_depend_on_the_hidden_pixels():
    """The blind-spot property: what the network sees is the same whatever the noise at a hidden pixel."""
    rng = np.random.default_rng(1)
    image = torch.from_numpy(rng.random((3, 24, 24))).float()
    mask = mask_grid(24, 4, (1, 2))
    changed = image.clone()
    changed[:, mask[0]] = torch.from_numpy(rng.random((3, int(mask.sum())))).float()
    assert torch.equal(hide(image, mask), hide(changed, mask))
    assert torch.equal(hide(image, mask)[:, ~mask[0]], image[:, ~mask[0]])  # only hidden pixels change
    # a hidden pixel becomes the mean of its eight neighbours
    assert torch.allclose(hide(image, mask)[:, 1, 2], image[:, 0:3, 1:4].sum((1, 2)) / 8 - image[:, 1, 2] / 8)


def test_sub_image_neighbours_are_stride_pixels_apart():
    """Each training sub-image is one pixel-shuffle phase of a crop: its neighbours are `stride` px apart."""
    h = w = 60
    coordinates = np.zeros((h, w, 3), np.uint16)
    coordinates[..., 0], coordinates[..., 1] = np.mgrid[:h, :w]
    maker = NoisyBatchMaker((NoisyImage("grid", coordinates),), patch=8, stride=5, flips=False, seed=3)
    for step in range(5):
        _, target, mask = maker.sample(step, 0)
        rows = torch.round(target[0] * 65535)
        cols = torch.round(target[1] * 65535)
        assert torch.all(rows.diff(dim=0) == 5) and torch.all(cols.diff(dim=1) == 5)
        assert mask.sum() == 4  # an 8 x 8 sub-image, one pixel in 16 hidden


def test_loss_is_scored_at_hidden_pixels_only():
    torch.manual_seed(0)
    model = build_model(tiny_config(estimator=True))
    hidden, target, mask = (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), mask_grid(16, 4, (0, 0)).expand(2, 1, 16, 16))
    loss = blind_spot_loss(model, hidden, target, mask)
    changed = target.clone()
    changed[~mask.expand_as(target)] = 0.5  # visible pixels' targets are never scored
    assert torch.equal(loss, blind_spot_loss(model, hidden, changed, mask))
    changed[mask.expand_as(target)] += 0.1
    assert not torch.equal(loss, blind_spot_loss(model, hidden, changed, mask))


def test_noisy_folders_never_yield_references(noisy_folder, tmp_path):
    assert [p.name for p in noisy_paths(noisy_folder)] == [f"p{i}.png" for i in range(4)]
    assert all(p.parent.name == "noisy" for p in noisy_paths(noisy_folder))
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "a.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="no images found"):
        noisy_paths(tmp_path)


def run_module(*args, timeout=240):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_train_noisy_alone_loss_falls_and_resumes(noisy_folder, tmp_path):
    """`python -m train --noisy DIR` with no clean images: the blind-spot loss falls, and a finished run
    resumed with more steps continues where it stopped (by steps, not time: a fast machine finishes any
    tiny time budget's worth)."""
    out = tmp_path / "run"
    args = ["-m", "train", "--noisy", noisy_folder, "--model-config", noisy_folder / "tiny.json", "--patch", 16,
            "--pd-stride", 5, "--batch", 8, "--lr", 3e-3, "--log-every", 5, "--threads", 1, "--out", out]
    first = run_module(*args, "--steps", 40)
    assert first.returncode == 0, first.stderr[-2000:]
    stopped = json.loads((out / "log.json").read_text())[-1]["step"]
    assert stopped == 40
    resumed = run_module("-m", "train", "--resume", out, "--threads", 1, "--steps", 80)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming at step {stopped}" in resumed.stdout
    history = json.loads((out / "log.json").read_text())
    assert history[-1]["step"] == 80
    losses = [e["train_loss"] for e in history]
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2]), losses
    assert (out / "model" / "model.safetensors").is_file()


def test_train_mixes_supervised_and_noisy_terms(noisy_folder, tmp_path):
    from skimage import data

    write_image(tmp_path / "clean" / "a.png", data.astronaut()[:96, :96])
    out = tmp_path / "run"
    result = run_module("-m", "train", "--clean", tmp_path / "clean", "--noisy", noisy_folder, "--noisy-weight", 0.5,
                        "--noisy-batch", 4, "--model-config", noisy_folder / "tiny.json", "--patch", 16, "--batch", 4,
                        "--steps", 3, "--val-fraction", 0, "--threads", 1, "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 training / 4 noisy-only" in result.stdout


def test_step_loss_is_supervised_plus_weighted_blind_spot_term():
    from denoiser_train.config import TrainConfig
    from denoiser_train.objectives import step_loss, supervised_loss

    torch.manual_seed(0)
    model = build_model(tiny_config(estimator=True))
    config = TrainConfig(noisy_weight=0.25, loss="mse")
    supervised = (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), torch.full((2, 1, 16, 16), 0.1))
    blind = (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), mask_grid(16, 4, (1, 1)).expand(2, 1, 16, 16))
    both = step_loss(model, config, supervised, blind, torch.device("cpu"))
    expected = supervised_loss(model, config, *supervised) + 0.25 * blind_spot_loss(model, *blind, "mse", config.noisy_level)
    assert torch.allclose(both, expected)


ADAPT_WATCHING_OPENS = textwrap.dedent("""
    import sys
    sys.path.insert(0, ".")  # the repository root (run_module's cwd): a script's own folder is on sys.path, not the cwd
    opened = []
    sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" and args else None)
    from denoiser.cli import main
    code = main(sys.argv[1:])
    gt = [p for p in opened if "/gt/" in p]
    print("GT_OPENED", gt)
    sys.exit(code)
""")


def test_blind_spot_loss_falls_on_real_noisy_photos(tmp_path):
    """From a fresh model, a few dozen blind-spot steps on real phone photos (SIDD12's noisy images) lower
    the loss: the objective is learnable on real, spatially correlated noise."""
    folder = data_dir("real/SIDD12")
    from denoiser_train.self_supervised import load_noisy

    torch.manual_seed(0)
    model = build_model(tiny_config(estimator=True))
    maker = NoisyBatchMaker(tuple(load_noisy(folder, 3, 80)), patch=16, stride=5, seed=0)
    held = maker.batch(10**6, range(96))  # a fixed batch never trained on

    def held_loss() -> float:
        with torch.no_grad():
            return blind_spot_loss(model, *held).item()

    before = held_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(80):
        loss = blind_spot_loss(model, *maker.batch(step, range(8)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert held_loss() < 0.85 * before, (before, held_loss())


def test_noisy_split_is_the_standard_scene_split(noisy_folder):
    """--noisy-split / adapt --split take the same images as `evaluate --split` (by name, no reference read)."""
    from denoiser.splits import pair_paths

    for split in ("train", "test"):
        assert [p.name for p in noisy_paths(noisy_folder, split)] == [n.name for n, _ in pair_paths(noisy_folder, split)]
    with pytest.raises(ValueError, match="split must be"):
        noisy_paths(noisy_folder, "val")


def test_anchor_keeps_the_weights_near_where_the_run_started(noisy_folder, tmp_path):
    """--anchor (L2-SP): the same run with the pull ends nearer its starting weights, which it saves once and
    reads back on resume."""
    from safetensors.torch import load_file

    def distance(run: Path) -> float:
        start, end = load_file(run / "anchor.safetensors"), load_file(run / "model" / "model.safetensors")
        return sum(float((end[k] - v).pow(2).sum()) for k, v in start.items())

    runs = {}
    for weight in (0.0, 50.0):
        out = tmp_path / f"anchor{weight:g}"
        args = ["-m", "train", "--noisy", noisy_folder, "--model-config", noisy_folder / "tiny.json", "--patch", 16,
                "--batch", 8, "--lr", 1e-2, "--steps", 12, "--threads", 1, "--out", out, "--anchor", max(weight, 1e-12)]
        result = run_module(*args)
        assert result.returncode == 0, result.stderr[-2000:]
        runs[weight] = distance(out)
    assert runs[50.0] < 0.5 * runs[0.0], runs
    resumed = run_module("-m", "train", "--resume", tmp_path / "anchor50", "--steps", 14, "--threads", 1)
    assert resumed.returncode == 0 and "resuming at step 12" in resumed.stdout, resumed.stderr[-2000:]
