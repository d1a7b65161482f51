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
from denoiser_train.config import TrainConfig, field_help, parse_args
from denoiser_train.data import BatchMaker, NoiseSpec, load_clean, load_pairs, split_by_scene

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
    noisy, clean, sigma = maker.batch(3, range(16))
    # The same crop and orientation on both: what is left is the fixture's sigma-15 noise (a little
    # less where it clipped). A pair shifted by one pixel leaves std ~23, a flipped one ~38.
    residual = (noisy - clean) * 255
    assert 13 < residual.std() < 16.5 and residual.abs().mean() < 13
    assert 12 < sigma.mean() * 255 < 17  # the map the model is given measures that noise


def test_loss_falls_on_a_fixed_batch(tiny_data):
    from denoiser_train.objectives import loss_fn

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


def latest_state(run: Path) -> dict:
    checkpoints = run / "checkpoints"
    return json.loads((checkpoints / (checkpoints / "latest").read_text().strip() / "state.json").read_text())


def test_clean_run_writes_everything(tiny_data, tmp_path):
    from denoiser_train.objectives import learning_rate

    out = tmp_path / "run"
    args = [*common(tiny_data, out), "--val-every", 3, "--log-every", 1, "--warmup", 2]
    run_train(*args)
    names = {p.name for p in (out / "model").iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "curves.png", "samples.png"} <= names

    # the log: one row per step, the schedule's learning rate, validation where asked for
    config, _ = parse_args(list(map(str, args)))
    log = json.loads((out / "log.json").read_text())
    assert [e["step"] for e in log] == list(range(1, 7))
    assert [e["lr"] for e in log] == pytest.approx([learning_rate(config, s, 6) for s in range(6)])
    assert [e["epoch"] for e in log] == pytest.approx([e["step"] * log[0]["epoch"] for e in log])
    assert all(np.isfinite(e["train_loss"]) and e["train_loss"] > 0 for e in log)
    assert [e["step"] for e in log if "val_loss" in e] == [3, 6] and 10 < log[-1]["psnr_25"] < 60
    csv = (out / "log.csv").read_text().splitlines()
    assert len(csv) == 7 and csv[0].startswith("step,") and [int(r.split(",")[0]) for r in csv[1:]] == list(range(1, 7))

    # the checkpoint and the run card agree on the step count (the card once said "0 steps")
    state = latest_state(out)
    assert state["step"] == 6 and [e["step"] for e in state["history"]] == list(range(1, 7))
    card = (out / "model" / "README.md").read_text()
    assert "(finished: 6 steps," in card

    # the config round-trips: the saved JSON is exactly the parsed command line
    saved = TrainConfig.from_json((out / "train_config.json").read_text())
    assert saved == config and saved.steps == 6 and saved.warmup == 2

    import denoiser

    model = denoiser.load_model(out / "model")
    assert denoiser.denoise(np.zeros((20, 20, 3), np.uint8), model, sigma=10).shape == (20, 20, 3)
    a, b = weights(out / "model"), weights(out / "checkpoints" / "step-0000006")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the exported model is the last step's


def test_pairs_run(tiny_data, tmp_path):
    out = tmp_path / "pairs-run"
    run_train("--pairs", tiny_data / "pairs", "--steps", 3, "--out", out, "--model-config", tiny_data / "tiny.json",
              "--patch", 32, "--batch", 2, "--val-fraction", 0.5, "--val-limit", 1, "--threads", 1)
    log = json.loads((out / "log.json").read_text())
    assert "psnr_real" in log[-1] and log[-1]["step"] == 3 and latest_state(out)["step"] == 3
    assert "(finished: 3 steps," in (out / "model" / "README.md").read_text()


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
    assert f"(stopped early (resumable): {state['step']} steps," in (stopped / "model" / "README.md").read_text()

    run_train("--resume", stopped)
    assert f"(finished: {steps} steps," in (stopped / "model" / "README.md").read_text()
    a, b = weights(straight / "model"), weights(stopped / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    logged = [e["step"] for e in json.loads((stopped / "log.json").read_text())]
    assert logged == list(range(1, steps + 1))  # no duplicated or missing log rows


def test_late_patch_schedule_keeps_pixels_per_step():
    from denoiser_train.batching import patch_schedule

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
    assert latest_state(out)["step"] == 3 and "(finished: 3 steps," in (out / "model" / "README.md").read_text()


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
    from denoiser_train import checkpoint

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
    from denoiser_train.config import parse_args, resume_config

    cli, given = parse_args(["--resume", str(rerun)])
    assert resume_config(rerun, cli, given).from_checkpoint == "latest"  # ...but not carried to the next resume


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    from denoiser_train import checkpoint

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


# ------------------------------------------------------------------ schedules, loss, input checks


def schedule_config(**overrides) -> TrainConfig:
    return dataclasses.replace(TrainConfig(out="o", clean=("x",), steps=100, lr=1e-3, min_lr=1e-5), **overrides)


def test_learning_rate_warmup_and_cosine_endpoints():
    from denoiser_train.objectives import learning_rate

    config = schedule_config(schedule="cosine", warmup=10)
    warm = [learning_rate(config, s, 100) for s in range(10)]
    assert warm == pytest.approx([1e-3 * (s + 1) / 10 for s in range(10)])  # linear, reaching the peak
    assert learning_rate(config, 0, 100) > 0  # the first step already moves
    cosine = schedule_config(schedule="cosine")
    assert learning_rate(cosine, 0, 100) == pytest.approx(1e-3)  # starts at the peak...
    assert learning_rate(cosine, 50, 100) == pytest.approx((1e-3 + 1e-5) / 2)  # half way at half time...
    assert learning_rate(cosine, 100, 100) == pytest.approx(1e-5)  # ...and ends at --min-lr
    assert learning_rate(cosine, 250, 100) == pytest.approx(1e-5)  # past the end (a resumed, longer run)
    rates = [learning_rate(cosine, s, 100) for s in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))  # never rises
    assert learning_rate(schedule_config(schedule="constant"), 99, 100) == pytest.approx(1e-3)


def test_learning_rate_step_schedule_drops_tenfold_at_60_and_85_percent():
    from denoiser_train.objectives import learning_rate

    config = schedule_config(schedule="step")
    assert [learning_rate(config, s, 100) for s in (0, 59, 60, 84, 85, 99)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])


def test_charbonnier_loss_is_a_smooth_l1():
    from denoiser_train.objectives import loss_fn

    target = torch.zeros(4, 3, 8, 8)
    far = torch.full_like(target, 0.5)
    assert loss_fn("charbonnier", far, target).item() == pytest.approx(0.5, rel=1e-5)  # ~ |error| when large
    assert loss_fn("charbonnier", target, target).item() == pytest.approx(1e-3, rel=1e-3)  # sqrt(eps) at zero
    assert loss_fn("charbonnier", -far, target).item() == pytest.approx(loss_fn("charbonnier", far, target).item())
    assert loss_fn("l1", far, target).item() == pytest.approx(0.5)
    assert loss_fn("mse", far, target).item() == pytest.approx(0.25)
    output = torch.zeros_like(target, requires_grad=True)
    loss_fn("charbonnier", output, target).backward()  # smooth at zero error, unlike l1's kink
    assert torch.isfinite(output.grad).all() and output.grad.abs().max() == 0
    small = torch.full_like(target, 1e-4, requires_grad=True)
    loss_fn("charbonnier", small, target).backward()
    assert 0 < small.grad.max() < 0.2 / small.numel()  # gradient shrinks towards zero error


def test_patch_must_be_a_multiple_of_the_model_stride(tiny_data, capsys):
    base = ["--clean", "x", "--steps", "5", "--out", "o"]
    for extra, message in [(["--patch", "60"], "--patch 60 must be a multiple of the model's stride 8"),
                           (["--preset", "photo", "--patch", "36"], "--patch 36 must be a multiple of the model's stride 8"),
                           (["--patch", "64", "--late-patch", "100"], "--late-patch 100 must be a multiple of the model's stride 8")]:
        with pytest.raises(SystemExit) as stop:
            parse_args(base + extra)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert parse_args(base + ["--patch", "56", "--late-patch", "96"])[0].patch == 56
    assert parse_args(base + ["--preset", "seed", "--patch", "61"])[0].patch == 61  # the paper's net: stride 1
    # a --model-config is measured too: the fixture's two-level U-Net has stride 2
    assert parse_args(base + ["--model-config", str(tiny_data / "tiny.json"), "--patch", "34"])[0].patch == 34
    with pytest.raises(SystemExit):
        parse_args(base + ["--model-config", str(tiny_data / "tiny.json"), "--patch", "33"])
    assert "--patch 33 must be a multiple of the model's stride 2" in capsys.readouterr().err


def test_a_bad_patch_fails_before_training(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_train("--clean", tiny_data / "clean", "--steps", 2, "--out", out, "--patch", 60, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--patch 60 must be a multiple of the model's stride 8" in result.stderr.strip().splitlines()[-1]
    assert not out.exists()


# ------------------------------------------------------------------ SIDD folders


def sidd_tree(root: Path) -> Path:
    """SIDD's Data/ layout: capture folders <capture>_<scene>_<camera>_..., two crops each."""
    rng = np.random.default_rng(0)
    for folder in ("0001_001_S6_00100_00060_3200_L", "0002_001_GP_00800_00350_5500_N",
                   "0003_002_IP_00400_00200_4400_L", "0004_003_N6_03200_01000_3200_N"):
        for crop in ("010", "011"):
            clean = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
            write_image(root / "Data" / folder / f"{folder[:4]}_GT_SRGB_{crop}.PNG", clean)
            write_image(root / "Data" / folder / f"{folder[:4]}_NOISY_SRGB_{crop}.PNG", clean // 2)
    return root


def test_sidd_folders_pair_by_name_and_key_scenes_by_scene_number(tmp_path):
    from denoiser_train.data import find_pairs

    root = sidd_tree(tmp_path / "SIDD")
    found = find_pairs(root)
    assert len(found) == 8
    for noisy, clean, scene in found:
        assert clean.parent == noisy.parent and clean.name == noisy.name.replace("NOISY", "GT")
        assert scene == "SIDD-scene-" + noisy.parent.name.split("_")[1]
    assert sorted({scene for *_, scene in found}) == ["SIDD-scene-001", "SIDD-scene-002", "SIDD-scene-003"]
    assert find_pairs(root / "Data") == found  # the Data folder itself works too
    # scene 001 (two captures, by two phones) never lands on both sides of a split
    examples = load_pairs(root, 3, 32)
    for fraction in (0.2, 0.34, 0.5, 0.7):
        train, val = split_by_scene(examples, fraction)
        assert {e.scene for e in train}.isdisjoint({e.scene for e in val}) and train and val
        together = [e for e in train + val if e.scene == "SIDD-scene-001"]
        assert len(together) == 4 and (set(map(id, together)) <= set(map(id, train))
                                       or set(map(id, together)) <= set(map(id, val)))
    (root / "Data" / "0003_002_IP_00400_00200_4400_L" / "0003_GT_SRGB_011.PNG").unlink()
    with pytest.raises(ValueError, match="no matching GT_SRGB"):
        find_pairs(root)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no pairs found"):
        find_pairs(tmp_path / "nothing")


# ------------------------------------------------------------------ it learns


def test_training_through_train_learns_to_denoise(tiny_data, tmp_path):
    """A tiny U-Net, 100 steps of train() on five 72x72 crops at sigma 25: the loss falls well below
    the noise's own MSE and the held-out image gains several dB. An untrained (or frozen) model
    stays near the noisy input's ~20.2 dB."""
    from denoiser_train.loop import train

    out = tmp_path / "run"
    config = TrainConfig(out=str(out), clean=(str(tiny_data / "clean"),), noise="gaussian:25-25", steps=100,
                         model_config=str(tiny_data / "tiny.json"), patch=32, batch=8, lr=2e-3, schedule="constant",
                         val_fraction=0.17, val_limit=1, val_sigmas=(25.0,), val_every=100, log_every=10,
                         checkpoint_every=1000, augment=(), threads=1).validate()
    assert train(config) == out
    log = json.loads((out / "log.json").read_text())
    noise_mse = (25 / 255) ** 2
    assert log[0]["train_loss"] > 0.9 * noise_mse  # it starts out no better than the noisy input...
    assert log[-1]["train_loss"] < 0.4 * noise_mse  # ...and ends far better
    assert log[-1]["step"] == 100 and log[-1]["psnr_25"] > 24.5, log[-1]


def test_a_blind_seed_network_trains_validates_and_exports(tiny_data, tmp_path):
    """The paper's network takes no noise level: validation and the exported card must not give it one."""
    from denoiser.model import preset

    config = tmp_path / "seed.json"
    config.write_text(preset("seed", seed_depth=2, seed_filters=8).to_json())
    out = tmp_path / "seed-run"
    args = [*common(tiny_data, out, steps=4), "--val-every", 2, "--workers", 1]
    args[args.index("--model-config") + 1] = config
    run_train(*args)
    log = json.loads((out / "log.json").read_text())
    assert [e["step"] for e in log if "psnr_25" in e] == [2, 4] and all(np.isfinite(e["psnr_25"]) for e in log if "psnr_25" in e)
    assert {"README.md", "samples.png", "model.safetensors"} <= {p.name for p in (out / "model").iterdir()}
