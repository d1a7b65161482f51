"""Training the photo model's parts: the estimator's loss, --init, --estimator-only, new noise specs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from denoiser.hub import save_model
from denoiser.io import write_image
from denoiser.model import build_model
from denoiser_train.config import TrainConfig
from denoiser_train.data import NoiseSpec
from denoiser_train.loop import train
from denoiser_train.objectives import estimator_loss, loss_fn

from conftest import tiny_config


@pytest.fixture(scope="module")
def photo_setup(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("photo")
    for i, image in enumerate((data.astronaut(), data.coffee(), data.chelsea())):
        write_image(root / "clean" / f"img{i}.png", image[:96, :96])
    config = tiny_config(estimator=True, estimator_width=8)
    (root / "tiny.json").write_text(config.to_json())
    torch.manual_seed(3)
    save_model(build_model(config), root / "start")
    return root


def run(root: Path, out: Path, *extra: str, steps: int = 4) -> Path:
    from denoiser_train.config import parse_args

    config, _ = parse_args(["--clean", str(root / "clean"), "--noise", "gaussian:0-50,raw,color-gaussian",
                            "--model-config", str(root / "tiny.json"), "--init", str(root / "start"),
                            "--patch", "32", "--batch", "4", "--steps", str(steps), "--val-fraction", "0.34",
                            "--val-limit", "1", "--threads", "1", "--lr", "1e-2", "--out", str(out), *extra])
    return train(config)


def test_asymmetric_loss_punishes_under_estimates_more():
    def loss(estimate: float, truth: float) -> float:  # a Python float: pytest.approx can't take a 0-d tensor
        return estimator_loss(torch.full((1, 1, 4, 4), estimate), torch.full((1, 1, 4, 4), truth)).item()

    under, over = loss(0.1 / 1.5, 0.1), loss(0.1 * 1.5, 0.1)
    assert under > 2 * over > 0
    assert loss(0.1, 0.1) == 0
    # on a log scale: a factor of 2 costs about the same at sigma 10 as at sigma 50
    assert loss(20 / 255, 10 / 255) == pytest.approx(loss(100 / 255, 50 / 255), rel=0.1)


def test_estimator_only_changes_the_estimator_and_nothing_else(photo_setup, tmp_path):
    run(photo_setup, tmp_path / "run", "--estimator-only")
    before = load_file(photo_setup / "start" / "model.safetensors")
    after = load_file(tmp_path / "run" / "model" / "model.safetensors")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("estimator.") for k in changed)
    assert any(k.startswith("estimator.") for k in changed)


def test_init_loads_the_given_weights_and_full_training_moves_both_parts(photo_setup, tmp_path):
    run(photo_setup, tmp_path / "run")
    before = load_file(photo_setup / "start" / "model.safetensors")
    after = load_file(tmp_path / "run" / "model" / "model.safetensors")
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert {"estimator", "head", "tail"} <= changed


def test_init_that_fits_nothing_is_an_error(photo_setup, tmp_path):
    from denoiser.model import preset

    other = save_model(build_model(preset("seed", seed_filters=4, seed_depth=1)), tmp_path / "seed")
    with pytest.raises(ValueError, match="none of its weights fit"):
        run(photo_setup, tmp_path / "run", "--init", str(other))


def test_estimator_only_needs_an_estimator(tmp_path, photo_setup):
    (tmp_path / "plain.json").write_text(tiny_config().to_json())
    with pytest.raises(ValueError, match="estimator"):
        run(photo_setup, tmp_path / "run", "--estimator-only", "--model-config", str(tmp_path / "plain.json"),
            "--init", str(photo_setup / "start"))


def test_new_noise_kinds_give_a_local_noise_map():
    from denoiser_train.data import noise_std_map

    spec = NoiseSpec.parse("raw:1e-3-1e-2,color-gaussian:10-50")
    clean = torch.full((3, 64, 64), 0.5)
    for seed in range(6):
        noise = spec.sample(np.random.default_rng(seed))
        noisy = noise(clean, torch.Generator().manual_seed(seed))
        noise_map = noise_std_map(noise, clean, noisy)
        assert noise_map.shape == (1, 64, 64) and noise_map.min() >= 0
        rms = float((noisy - clean).pow(2).mean().sqrt())
        assert float(noise_map.mean()) == pytest.approx(rms, rel=0.15)  # the map is the noise's local RMS


def test_imagenet_validation_split_is_never_trained_on(tmp_path, held_out_files):
    from denoiser_train.data import load_clean

    folder = tmp_path / "ImageNet1000"
    names = [f"n{i:04d}_thing.JPEG" for i in range(30)]
    for i, name in enumerate(names):
        write_image(folder / name, np.full((80, 80 + i, 3), i, np.uint8))
    held = set(sorted(names)[::10])
    held_out_files([folder / n for n in held])
    loaded = {e.name for e in load_clean(folder, 3, 64)}
    assert len(held) == 3 and loaded == set(names) - held
    other = tmp_path / "other"
    other.mkdir()
    for name in names[:11]:  # copies under another folder's name: still held out, by content
        (other / f"copy-{name}").write_bytes((folder / name).read_bytes())
    assert {e.name for e in load_clean(other, 3, 64)} == {f"copy-{n}" for n in names[:11]} - {f"copy-{n}" for n in held}


def test_clean_downscale_halves_large_images_and_drops_tiny_ones(tmp_path):
    from denoiser_train.data import load_clean

    write_image(tmp_path / "big.png", np.full((200, 300, 3), 7, np.uint8))
    write_image(tmp_path / "mid.png", np.full((100, 120, 3), 7, np.uint8))
    write_image(tmp_path / "tiny.png", np.full((40, 40, 3), 7, np.uint8))
    shapes = {e.name: e.clean.shape for e in load_clean(tmp_path, 3, 64, downscale_from=150)}
    assert shapes == {"big.png": (100, 150, 3), "mid.png": (100, 120, 3)}


def test_validation_images_smaller_than_the_patch_are_cut_to_the_stride(photo_setup, tmp_path):
    from skimage import data

    val = tmp_path / "val"
    write_image(val / "small.png", data.astronaut()[:30, :30])  # under --patch 32, not a multiple of the stride 4
    run(photo_setup, tmp_path / "run", "--val", str(val), "--val-every", "2", steps=2)
    import json

    logged = json.loads((tmp_path / "run" / "log.json").read_text())
    assert any("val_loss" in entry for entry in logged)


def test_export_after_keeps_the_earlier_stage_for_the_card(photo_setup, tmp_path):
    import json

    from benchmarks.report_training import training_stages
    from denoiser_train.export import export_weights

    first = run(photo_setup, tmp_path / "first", steps=2)
    second = run(photo_setup, tmp_path / "second", "--estimator-only", "--init", str(first / "model"), steps=3)
    dest = export_weights(second, tmp_path / "shipped", after=(first,))
    assert json.loads((dest / "stages" / "1" / "train_config.json").read_text())["steps"] == 2
    stages = training_stages(dest, "photo")
    assert [s["steps"] for s in stages] == [2, 3]
    assert f"--init runs/photo-stage1/model" in stages[1]["command"]
    with pytest.raises(ValueError, match="not a training run"):
        export_weights(second, tmp_path / "other", after=(tmp_path / "nowhere",))


def test_export_a_chosen_checkpoint_records_which(photo_setup, tmp_path):
    import json

    from denoiser.hub import load_model
    from benchmarks.report_training import training_stages
    from denoiser_train.export import export_weights

    run_dir = run(photo_setup, tmp_path / "run", "--checkpoint-every", "2", "--ema", "0.9", steps=4)
    dest = export_weights(run_dir, tmp_path / "shipped", checkpoint="step-0000002")
    assert json.loads((dest / "selected.json").read_text()) == {"checkpoint": "step-0000002", "step": 2, "weights": "EMA"}
    ema = load_file(run_dir / "checkpoints" / "step-0000002" / "ema.safetensors")
    shipped = load_model(str(dest)).state_dict()
    assert all(torch.equal(ema[k], shipped[k]) for k in ema)
    [stage] = training_stages(dest, "photo")
    assert stage["selected"]["step"] == 2 and stage["steps"] == 4


def test_export_wise_averages_the_checkpoint_with_the_starting_weights(photo_setup, tmp_path):
    """--wise A ships A x the trained weights + (1 - A) x the --init weights, says so in selected.json, and the
    card's command gives the same export; a run that started from nothing, or a bad A, is refused."""
    import json

    from denoiser.hub import load_model
    from benchmarks.report_training import training_section, training_stages
    from denoiser_train.export import export_weights

    run_dir = run(photo_setup, tmp_path / "run", "--checkpoint-every", "2", steps=4)
    dest = export_weights(run_dir, tmp_path / "shipped", checkpoint="step-0000002", wise=0.25)
    selected = json.loads((dest / "selected.json").read_text())
    assert selected["wise"] == 0.25 and selected["start"] == str(photo_setup / "start") and selected["step"] == 2
    trained = load_file(run_dir / "checkpoints" / "step-0000002" / "model.safetensors")
    start = load_model(str(photo_setup / "start")).state_dict()
    shipped = load_model(str(dest)).state_dict()
    assert not torch.equal(trained["head.weight"], start["head.weight"])  # the run moved: the average is not either end
    for name, value in shipped.items():
        assert torch.allclose(value, 0.25 * trained[name] + 0.75 * start[name], atol=1e-6), name
    [stage] = training_stages(dest, "photo")
    assert stage["export"].endswith("--checkpoint step-0000002 --wise 0.25")
    assert "0.25 x these + 0.75 x" in "\n".join(training_section(dest, "", "photo"))

    (run_dir / "model" / "model.onnx").write_bytes(b"a graph of the unaveraged weights")
    final = export_weights(run_dir, tmp_path / "final", wise=0.5)
    assert json.loads((final / "selected.json").read_text())["checkpoint"] == "final"
    assert not (final / "model.onnx").exists()  # it would not match the averaged weights
    with pytest.raises(ValueError, match="between 0 and 1"):
        export_weights(run_dir, tmp_path / "bad", wise=1.5)
    from denoiser_train.config import parse_args

    config, _ = parse_args(["--clean", str(photo_setup / "clean"), "--model-config", str(photo_setup / "tiny.json"),
                            "--patch", "32", "--batch", "2", "--steps", "1", "--val-fraction", "0.34", "--val-limit", "1",
                            "--threads", "1", "--out", str(tmp_path / "scratch")])
    with pytest.raises(ValueError, match="no --init"):
        export_weights(train(config), tmp_path / "bad", wise=0.5)
    assert not (tmp_path / "bad").exists()


def test_init_from_several_sources_first_wins_and_records_their_hashes(photo_setup, tmp_path):
    import hashlib
    import json

    from denoiser.hub import load_model

    other = tmp_path / "other"
    torch.manual_seed(9)
    save_model(build_model(tiny_config(estimator=True, estimator_width=8)), other)
    run_dir = run(photo_setup, tmp_path / "run", "--init", str(other), steps=1)
    recorded = json.loads((run_dir / "init_sources.json").read_text())
    for source in (photo_setup / "start", other):
        assert recorded[str(source)] == hashlib.sha256((source / "model.safetensors").read_bytes()).hexdigest()
    # the two sources fit every tensor: the first given (start) wins everywhere
    from denoiser_train.loop import initial_weights

    model = build_model(tiny_config(estimator=True, estimator_width=8))
    initial_weights(model, (str(photo_setup / "start"), str(other)))
    start = load_model(str(photo_setup / "start")).state_dict()
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())


def test_level_image_gives_the_denoiser_the_median_of_the_map(photo_setup):
    from denoiser.model import image_level

    torch.manual_seed(0)
    model = build_model(tiny_config(estimator=True, estimator_width=8)).eval()
    noisy = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        estimate = model.estimator(noisy)
        level = image_level(estimate)
        assert level.shape == (2, 1, 1, 1)
        assert torch.equal(level[1].flatten(), estimate[1].flatten().median().view(1))
        per_image = model(noisy, None, per_image=True)
        assert torch.allclose(per_image, model(noisy, level.expand(-1, 1, 32, 32)))
        assert not torch.allclose(per_image, model(noisy, None))  # the map itself differs from its median


def test_estimator_trained_through_the_denoiser_with_image_levels(photo_setup, tmp_path):
    run_dir = run(photo_setup, tmp_path / "run", "--estimator-only", "--level", "image", "--estimator-loss", "0")
    before = load_file(photo_setup / "start" / "model.safetensors")
    after = load_file(run_dir / "model" / "model.safetensors")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("estimator.") for k in changed)
    from denoiser_train.config import parse_args

    with pytest.raises(SystemExit):  # the estimator can only learn through the denoiser's level
        parse_args(["--clean", "x", "--out", "y", "--steps", "1", "--estimator-only", "--level", "true"])


def test_estimator_loss_leaves_out_unknown_targets():
    estimate = torch.full((2, 1, 4, 4), 0.2, requires_grad=True)
    target = torch.full((2, 1, 4, 4), 0.1)
    target[1] = float("nan")  # sample 1: no known level
    assert estimator_loss(estimate, target).item() == pytest.approx(estimator_loss(estimate[:1], target[:1]).item())
    nothing = estimator_loss(estimate, torch.full_like(target, float("nan")))
    nothing.backward()
    assert nothing.item() == 0 and estimate.grad is not None and torch.isfinite(estimate.grad).all()


def test_white_targets_only_keeps_the_map_of_white_noise_alone(photo_setup):
    from denoiser_train.data import BatchMaker, load_clean

    examples = tuple(load_clean(photo_setup / "clean", 3, 32))
    for spec, finite in (("gaussian:10-30", True), ("raw", False), ("color-gaussian", False)):
        maker = BatchMaker(examples, NoiseSpec.parse(spec), 32, (), False, seed=0, white_targets_only=True)
        _, _, sigma_map = maker.batch(0, range(3))
        assert bool(torch.isfinite(sigma_map).all()) is finite and (finite or bool(torch.isnan(sigma_map).all()))
    plain = BatchMaker(examples, NoiseSpec.parse("raw"), 32, (), False, seed=0)
    assert torch.isfinite(plain.batch(0, range(3))[2]).all()


def test_level_checked_trains_the_denoiser_and_leaves_the_estimator(photo_setup, tmp_path):
    run_dir = run(photo_setup, tmp_path / "run", "--level", "checked", "--estimator-loss", "0")
    before = load_file(photo_setup / "start" / "model.safetensors")
    after = load_file(run_dir / "model" / "model.safetensors")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and not any(k.startswith("estimator.") for k in changed)
    from denoiser.hub import read_config

    assert read_config(run_dir / "model" / "config.json").white_noise_check  # runs as it was trained
    from denoiser_train.config import parse_args

    with pytest.raises(SystemExit):  # checked freezes the estimator: it cannot be the only part trained
        parse_args(["--clean", "x", "--out", "y", "--steps", "1", "--estimator-only", "--level", "checked"])


def test_level_checked_gives_white_samples_their_true_level_and_others_the_estimate(photo_setup):
    """As denoise() runs with the white-noise check: a finite map (white Gaussian noise) is used as
    given, a NaN one (any other noise) is replaced by the median of the estimator's map."""
    from denoiser.model import image_level
    from denoiser_train.objectives import supervised_loss

    torch.manual_seed(0)
    model = build_model(tiny_config(estimator=True, estimator_width=8)).eval()
    config = TrainConfig(clean=("x",), out="y", level="checked", estimator_loss=0.0)
    noisy, clean = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    sigma_map = torch.full((2, 1, 32, 32), 0.1)
    sigma_map[1] = float("nan")
    with torch.no_grad():
        level = image_level(model.estimator(noisy))[1:].expand(-1, 1, 32, 32)
        given = torch.cat([sigma_map[:1], level])
        expected = loss_fn(config.loss, model(noisy, given), clean)
        assert supervised_loss(model, config, noisy, clean, sigma_map).item() == pytest.approx(expected.item(), rel=1e-6)
    assert config.white_targets_only
