"""The trainer: CLI, data, a loss that falls, exact resume after SIGTERM, and 2-process DDP."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from denoiser.io import write_image
from denoiser.model import build_model
from train.config import TrainConfig, field_help, parse_args
from train.data import BatchMaker, NoiseSpec, load_clean, load_pairs, split_by_scene

from conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """Six clean 72x72 crops in clean/, and noisy/gt pairs of two 'scenes' in pairs/."""
    from skimage import data

    root = tmp_path_factory.mktemp("data")
    sources = [data.astronaut(), data.coffee(), data.chelsea()]
    rng = np.random.default_rng(0)
    for i in range(6):
        image = sources[i % 3][i * 20 : i * 20 + 72, i * 30 : i * 30 + 72]
        write_image(root / "clean" / f"img{i}.png", image)
        noisy = np.clip(image + rng.normal(0, 15, image.shape), 0, 255).astype(np.uint8)
        write_image(root / "pairs" / "gt" / f"scene{i % 2}_{i}.png", image)
        write_image(root / "pairs" / "noisy" / f"scene{i % 2}_{i}.png", noisy)
    (root / "tiny.json").write_text(tiny_config().to_json())
    return root


def run_train(*args, check=True, env=None, **kwargs):
    cmd = [sys.executable, "-m", "train", *map(str, args)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed:\n{result.stderr[-3000:]}")
    return result


def common(data: Path, out: Path, steps: int = 6) -> list:
    return ["--clean", data / "clean", "--noise", "gaussian:0-50", "--steps", steps, "--out", out,
            "--model-config", data / "tiny.json", "--patch", 32, "--batch", 4, "--val-fraction", 0.34,
            "--val-limit", 1, "--val-sigmas", 25, "--threads", 1]


def test_cli_rejects_unknown_and_ill_typed_options():
    with pytest.raises(SystemExit):
        parse_args(["--clean", "x", "--steps", "5", "--out", "o", "--learning-rate", "1"])
    with pytest.raises(SystemExit):
        parse_args(["--clean", "x", "--steps", "five", "--out", "o"])
    with pytest.raises(SystemExit):
        parse_args(["--clean", "x", "--steps", "5", "--out", "o", "--loss", "huber"])
    config, given = parse_args(["--clean", "a", "--clean", "b", "--steps", "5", "--out", "o", "--no-augment-pairs"])
    assert config.clean == ("a", "b") and config.steps == 5 and "steps" in given


def test_every_option_is_documented_in_help(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    undocumented = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in field_help()]
    assert not undocumented, f"add a trailing comment to these TrainConfig fields: {undocumented}"
    assert "--late-fraction LATE_FRACTION share of the steps, at the end, that use --late-patch" in text
    assert "(default: 0.25)" in text


def test_noise_spec_parsing():
    spec = NoiseSpec.parse("gaussian:0-75@3,nlf@1")
    assert spec.kinds == ("gaussian", "nlf") and spec.weights == (0.75, 0.25)
    assert NoiseSpec.parse("camera:1e-4-5e-2").ranges == ((1e-4, 5e-2),)
    for bad in ("gauss:0-5", "gaussian:9-1", "gaussian:0-5000", "poisson@x"):
        with pytest.raises(ValueError):
            NoiseSpec.parse(bad)


def test_batches_are_a_pure_function_of_the_step(tiny_data):
    examples = load_clean(tiny_data / "clean", 3, 32)
    maker = BatchMaker(tuple(examples), NoiseSpec.parse("gaussian:0-75,poisson,nlf"), 32,
                       ("flip", "rot90", "hue", "brightness"), False, seed=0)
    a, b = maker.batch(5, range(4)), maker.batch(5, range(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    halves = [maker.batch(5, range(r, 4, 2)) for r in (0, 1)]
    assert torch.equal(halves[0][0][0], a[0][0]) and torch.equal(halves[1][0][0], a[0][1])
    noisy, clean, sigma = a
    assert noisy.shape == clean.shape == (4, 3, 32, 32) and sigma.shape == (4, 1, 32, 32)
    assert 0 <= clean.min() and clean.max() <= 1


def test_pairs_keep_geometry_and_scene_split(tiny_data):
    examples = load_pairs(tiny_data / "pairs", 3, 32)
    train, val = split_by_scene(examples, 0.5)
    assert {e.scene for e in train}.isdisjoint({e.scene for e in val}) and train and val
    maker = BatchMaker(tuple(examples), NoiseSpec.parse("gaussian"), 32, ("flip", "rot90"), False, seed=0)
    noisy, clean, sigma = maker.sample(3, 0)
    assert (noisy - clean).abs().mean() < 0.1  # the same crop and orientation on both


def test_loss_falls_on_a_fixed_batch(tiny_data):
    from train.loop import loss_fn

    torch.manual_seed(0)
    examples = load_clean(tiny_data / "clean", 3, 32)
    maker = BatchMaker(tuple(examples), NoiseSpec.parse("gaussian:25-25"), 32, (), False, seed=0)
    noisy, clean, sigma = maker.batch(0, range(8))
    model = build_model(tiny_config())
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        loss = loss_fn("mse", model(noisy, sigma), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_clean_run_writes_everything(tiny_data, tmp_path):
    out = tmp_path / "run"
    run_train(*common(tiny_data, out), "--val-every", 3, "--log-every", 1)
    names = {p.name for p in (out / "model").iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "curves.png", "samples.png"} <= names
    log = json.loads((out / "log.json").read_text())
    assert [e["step"] for e in log] == list(range(1, 7)) and "psnr_25" in log[-1]
    assert json.loads((out / "train_config.json").read_text())["steps"] == 6
    import denoiser

    model = denoiser.load_model(out / "model")
    assert denoiser.denoise(np.zeros((20, 20, 3), np.uint8), model, sigma=10).shape == (20, 20, 3)


def test_pairs_run(tiny_data, tmp_path):
    out = tmp_path / "pairs-run"
    run_train("--pairs", tiny_data / "pairs", "--steps", 3, "--out", out, "--model-config", tiny_data / "tiny.json",
              "--patch", 32, "--batch", 2, "--val-fraction", 0.5, "--val-limit", 1, "--threads", 1)
    log = json.loads((out / "log.json").read_text())
    assert "psnr_real" in log[-1]


def test_bad_data_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_train("--clean", tmp_path / "empty", "--steps", 2, "--out", tmp_path / "r", check=False)
    assert result.returncode == 2 and "no images" in result.stderr


def test_missing_model_config_names_the_option(tiny_data, tmp_path):
    result = run_train("--clean", tiny_data / "clean", "--model-config", tmp_path / "nope.json", "--steps", 2,
                       "--out", tmp_path / "r", check=False)
    assert result.returncode == 2 and "--model-config" in result.stderr and "no such file" in result.stderr


def weights(folder: Path) -> dict:
    return load_file(folder / "model.safetensors")


def test_resume_after_sigterm_matches_an_uninterrupted_run(tiny_data, tmp_path):
    # the late-patch phase is part of the run, so resuming must also cross the patch change exactly
    args = ["--ema", 0.9, "--log-every", 1, "--checkpoint-every", 1000, "--val-every", 1000,
            "--late-patch", 48, "--late-fraction", 0.5]
    steps = 300  # long enough that the SIGTERM lands mid-run
    straight = tmp_path / "straight"
    run_train(*common(tiny_data, straight, steps=steps), *args)

    stopped = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "train", *map(str, common(tiny_data, stopped, steps=steps)), *map(str, args)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (stopped / "log.json").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    state = json.loads((stopped / "checkpoints" / (stopped / "checkpoints" / "latest").read_text().strip() / "state.json").read_text())
    assert 0 < state["step"] < steps, err[-2000:]
    assert "--resume" in err or "--resume" in _

    run_train("--resume", stopped)
    a, b = weights(straight / "model"), weights(stopped / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    logged = [e["step"] for e in json.loads((stopped / "log.json").read_text())]
    assert logged == list(range(1, steps + 1))  # no duplicated or missing log rows


def test_late_patch_schedule_keeps_pixels_per_step():
    from train.loop import patch_schedule

    config, _ = parse_args(["--clean", "x", "--steps", "100", "--out", "o", "--patch", "64", "--batch", "32",
                            "--late-patch", "128", "--late-fraction", "0.25"])
    assert patch_schedule(config, 100, world=1) == (75, 128, 8)
    assert patch_schedule(config, 100, world=4) == (75, 128, 8)
    assert patch_schedule(config, 100, world=3) == (75, 128, 9)  # a multiple of the world size
    off, _ = parse_args(["--clean", "x", "--steps", "100", "--out", "o"])
    assert patch_schedule(off, 100, world=1) == (100, off.patch, off.batch)
    with pytest.raises(SystemExit):
        parse_args(["--clean", "x", "--steps", "5", "--out", "o", "--patch", "64", "--late-patch", "32"])


def test_divergence_stops_with_a_clear_error_and_keeps_earlier_checkpoints(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_train(*common(tiny_data, out, steps=200), "--lr", "1e12", "--loss", "mse", "--checkpoint-every", 1,
                       "--min-lr", "1e12", check=False)
    assert result.returncode == 2 and "training diverged at step" in result.stderr, result.stderr[-2000:]
    latest = (out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip())
    assert all(torch.isfinite(t).all() for t in load_file(latest / "model.safetensors").values())


def test_resume_refuses_changed_settings(tiny_data, tmp_path):
    out = tmp_path / "run"
    run_train(*common(tiny_data, out, steps=2))
    result = run_train("--resume", out, "--lr", "0.5", check=False)
    assert result.returncode == 2 and "cannot change ['lr']" in result.stderr
    run_train("--resume", out, "--steps", 3)  # a longer budget is allowed
    assert json.loads((out / "log.json").read_text())[-1]["step"] == 3


def test_two_process_ddp_matches_one_process(tiny_data, tmp_path):
    single, double = tmp_path / "single", tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    late = ["--late-patch", 48, "--late-fraction", 0.5]  # the late batch is sharded too
    run_train(*common(tiny_data, single, steps=4), *late)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "train", *map(str, common(tiny_data, double, steps=4)), *map(str, late)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = weights(single / "model"), weights(double / "model")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    assert not any(k.startswith("module.") for k in b)


def test_resume_after_sigkill_between_checkpoints(tiny_data, tmp_path):
    args = ["--log-every", 5, "--checkpoint-every", 20, "--val-every", 1000]
    steps = 300
    straight = tmp_path / "straight"
    run_train(*common(tiny_data, straight, steps=steps), *args)

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "train", *map(str, common(tiny_data, killed, steps=steps)), *map(str, args)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "checkpoints" / "latest").exists():
        time.sleep(0.02)
    time.sleep(0.1)
    proc.kill()  # SIGKILL: no handler runs, no final checkpoint
    proc.wait(timeout=60)
    assert not (killed / "model").exists()

    run_train("--resume", killed)
    a, b = weights(straight / "model"), weights(killed / "model")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e["step"] for e in json.loads((killed / "log.json").read_text())] == list(range(5, steps + 1, 5))


def test_the_best_checkpoint_survives_pruning(tmp_path):
    from train import checkpoint

    model = build_model(tiny_config())
    optimizer = torch.optim.Adam(model.parameters())
    for step in range(1, 6):
        checkpoint.save_checkpoint(tmp_path, step, model, optimizer, None, {"history": []}, best=step == 2)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-0000002", "step-0000004", "step-0000005"]
    assert checkpoint.find_checkpoint(tmp_path, "best").name == "step-0000002"
    assert checkpoint.find_checkpoint(tmp_path).name == "step-0000005"
    with pytest.raises(FileNotFoundError, match="step-0000003"):
        checkpoint.find_checkpoint(tmp_path, "step-0000003")


def test_resume_from_the_best_checkpoint_replays_to_the_same_weights(tiny_data, tmp_path):
    args = ["--log-every", 1, "--checkpoint-every", 1, "--val-every", 2]
    straight, rerun = tmp_path / "straight", tmp_path / "rerun"
    run_train(*common(tiny_data, straight, steps=8), *args)
    run_train(*common(tiny_data, rerun, steps=8), *args)
    best = (rerun / "checkpoints" / "best").read_text().strip()
    assert (rerun / "checkpoints" / best / "state.json").is_file()
    run_train("--resume", rerun, "--from-checkpoint", "best")
    a, b = weights(straight / "model"), weights(rerun / "model")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e["step"] for e in json.loads((rerun / "log.json").read_text())] == list(range(1, 9))
    saved = json.loads((rerun / "train_config.json").read_text())
    assert saved["from_checkpoint"] == "best"  # recorded for this invocation...
    from train.config import parse_args, resume_config

    cli, given = parse_args(["--resume", str(rerun)])
    assert resume_config(rerun, cli, given).from_checkpoint == "latest"  # ...but not carried to the next resume


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    from train import checkpoint

    model = build_model(tiny_config())
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)).mean().backward()
    optimizer.step()
    checkpoint.save_checkpoint(tmp_path, 10, model, optimizer, None, {"history": []})

    def dies_halfway(tensors, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", dies_halfway)
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(tmp_path, 20, model, optimizer, None, {"history": []})
    monkeypatch.undo()
    latest = checkpoint.find_checkpoint(tmp_path)
    assert latest.name == "step-0000010"
    assert [p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")] == []
    state = checkpoint.load_checkpoint(latest, build_model(tiny_config()), torch.optim.Adam(build_model(tiny_config()).parameters()), None)
    assert state["step"] == 10


def test_export_copies_a_finished_run(tiny_data, tmp_path):
    out = tmp_path / "run"
    run_train(*common(tiny_data, out, steps=2))
    result = run_train("export", out, tmp_path / "weights" / "tiny")
    names = {p.name for p in (tmp_path / "weights" / "tiny").iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "train_config.json", "log.json"} <= names
    assert "exported" in result.stdout
    assert run_train("export", tmp_path / "missing", tmp_path / "x", check=False).returncode == 2
