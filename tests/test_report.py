"""The model card is rendered from measured results: every figure in it comes from the inputs."""

import json

import pytest

from benchmarks.recorder import SIGMAS
from benchmarks.report import render_card
from benchmarks.report_training import training_budget


def results() -> dict:
    def rows(method, base):
        return [{"method": method, "dataset": "CBSD68", "sigma": s, "psnr": base - i, "ssim": 0.9 - i / 10, "n": 68}
                for i, s in enumerate(SIGMAS)]

    def imagenet(method, base):
        return [{**r, "dataset": "ImageNet1000-val", "n": 100} for r in rows(method, base)]

    return {
        "model": "gaussian", "parameters": 1_640_000, "macs_per_pixel": 53_000.0,
        "cbsd68": rows("ours", 33.71), "cbsd68_blind": [rows("ours", 33.61)[1]], "cbsd68_noisy": rows("noisy", 24.61),
        "cbsd68_x8": rows("ours", 33.83), "cbsd68_seed": rows("seed", 31.17) + rows("seed-paper", 30.50),
        "seed_training": {"seed": {"steps": 1234, "minutes": 30.4, "loss": "l1", "lr": 0.0003, "schedule": "cosine", "ema": 0.999},
                          "seed-paper": {"steps": 1234, "minutes": 29.0, "loss": "mse", "lr": 0.0001, "schedule": "constant", "ema": 0}},
        "cbsd68_peer": rows("ffdnet", 33.60),
        "imagenet_val": imagenet("ours", 33.63), "imagenet_val_peer": imagenet("ffdnet", 33.68),
        "imagenet_val_noisy": imagenet("noisy", 24.65),
        "speed": {"mp_per_s": 1.234, "threads": 2, "size": 1024, "dncnn_mp_per_s": 0.111, "speedup_vs_dncnn": 11.1,
                  "networks": {"ours": {"mp_per_s": 1.221, "layout": "channels_last", "by_layout": {"NCHW": 1.1, "channels_last": 1.221}},
                               "DnCNN": {"mp_per_s": 0.111, "layout": "channels_last", "by_layout": {"NCHW": 0.09, "channels_last": 0.111}},
                               "ffdnet": {"mp_per_s": 0.5, "layout": "NCHW", "by_layout": {"NCHW": 0.5, "channels_last": 0.4}}},
                  "peers": {"ffdnet": 0.5}, "photo": {"seconds": 12.3, "peak_memory_gb": 1.56}},
    }


def write_run(folder, seconds: float, **changes) -> None:
    """A weights folder's train_config.json and a one-line log.json, as `train export` leaves them."""
    config = {"clean": ["data/CBSD432"], "pairs": [], "noise": "gaussian:0-75", "preset": "default", "loss": "l1",
              "lr": 0.002, "min_lr": 1e-5, "warmup": 100, "clip_grad": 0.1, "ema": 0.999, "batch": 32, "patch": 64,
              "late_patch": 128, "late_fraction": 0.25, "steps": 24000, "threads": 2, "seed": 0, **changes}
    (folder / "train_config.json").write_text(json.dumps(config))
    (folder / "log.json").write_text(json.dumps([{"step": config["steps"], "seconds": seconds}]))


def test_card_shows_the_measured_figures_and_the_training_command(tmp_path):
    write_run(tmp_path, 6000.0)
    card = render_card(results(), tmp_path, "owner/denoiser-gaussian")

    assert card.startswith("---\n") and "model-index:" in card and "value: 33.71" in card
    assert "| **ours** | **33.71** | **32.71** | **31.71** |" in card
    assert "| noisy input (no denoising) | 24.61 | 23.61 | 22.61 | measured here |" in card
    assert "| ours, ×8 self-ensemble (8× slower) | 33.83 | 32.83 | 31.83 |" in card
    assert "| seed network (seed: L1, Adam 0.0003 cosine, EMA 0.999) | 31.17 | 30.17 | 29.17 |" in card
    assert "| seed network (seed-paper: MSE, Adam 0.0001 constant) | 30.50 | 29.50 | 28.50 |" in card
    # the peer, measured on the same inputs, with the margin the targets ask for and the difference
    assert "| ffdnet (the authors' weights, run here on the same noisy inputs) | 33.60 | 32.60 | 31.60 |" in card
    assert "| target: ffdnet + 0.05 | ≥ 33.65 | ≥ 32.65 | ≥ 31.65 | |" in card
    assert "| ours − ffdnet | +0.11 | +0.11 | +0.11 | same run |" in card
    imagenet = card[card.index("## Colour AWGN on ImageNet-val (100 photos"):]
    assert "| target: ffdnet + 0.10 | ≥ 33.78 |" in imagenet and "| ours − ffdnet | -0.05 | -0.05 | -0.05 |" in imagenet
    assert "| noisy input (no denoising) | 24.65 |" in imagenet
    # speed: network against network, each in its fastest layout
    assert "| FFDNet (the authors' weights) | 0.500 | NCHW | 0.500 | 0.400 | 2.4× as fast |" in card
    assert "| DnCNN (17×64, random weights) | 0.111 | channels_last | 0.090 | 0.111 | 11.0× as fast |" in card
    assert "at σ = 25: 32.61 dB (-0.10 dB vs. the true σ)" in card
    assert "1.23 megapixels/s" in card and "12.3 s, peak memory 1.56 GB" in card
    assert "24000 steps in 100 minutes" in card
    assert "--warmup 100 --clip-grad 0.1 --ema 0.999" in card
    assert "--patch 64 --late-patch 128 --late-fraction 0.25 --steps 24000" in card
    assert "multiply-adds per pixel: 53.0 k" in card


def test_card_without_optional_sections(tmp_path):
    minimal = {k: v for k, v in results().items() if k in ("model", "parameters", "macs_per_pixel", "cbsd68")}
    card = render_card(minimal, tmp_path, "owner/name")
    assert "seed network" not in card and "## Speed" not in card and "## Training" not in card
    assert "## Colour AWGN on ImageNet-val" not in card and "ffdnet" not in card


def test_seed_row_states_the_command_that_trained_it(tmp_path):
    write_run(tmp_path, 5100.0, preset="seed", lr=0.001, clip_grad=0.0, late_patch=0, steps=440)
    budget = training_budget(tmp_path, "runs/seed")
    assert budget["steps"] == 440 and budget["minutes"] == 85.0
    assert budget["command"].endswith("--preset seed --loss l1 --lr 0.001 --min-lr 1e-05 --warmup 100 --ema 0.999 "
                                      "--batch 32 --patch 64 --steps 440 --threads 2 --seed 0 --out runs/seed")
    budget.update(loss="l1", lr=0.001, batch=32, patch=64, device="cpu")
    card = render_card({**results(), "seed_training": {"seed": budget}}, tmp_path / "elsewhere", "owner/name")
    assert "`seed`: 440 steps of 32×64² patches, 85.0 min on this machine's CPU:" in card
    assert budget["command"] in card


def photo_results() -> dict:
    def rec(section_method, dataset, psnr, ssim=0.9, sigma=None, n=12):
        return {"method": section_method, "dataset": dataset, "sigma": sigma, "psnr": psnr, "ssim": ssim, "n": n}

    return {
        "model": "photo", "kind": "photo", "parameters": 1_750_000, "macs_per_pixel": 58_000.0,
        "sidd12": [rec("noisy", "SIDD12", 22.98), rec("photo", "SIDD12", 34.61), rec("gaussian", "SIDD12", 25.22),
                   rec("pd", "SIDD12", 32.95)],
        "sidd12_strength": {"method": "photo", "values": [0.75, 1.0, 1.25], "best": [1.0] * 10 + [1.25, 0.75],
                            "mean_best": 1.0, "psnr": 34.8, "ssim": 0.91, "per_value_psnr": [34.0, 34.61, 34.2]},
        "sidd12_gaussian_oracle": {"method": "gaussian", "values": [20, 40], "best": [40] * 12, "mean_best": 40,
                                   "psnr": 34.0, "ssim": 0.9, "per_value_psnr": [30.0, 34.0]},
        "polyu": [rec("noisy", "PolyU-test", 35.78, n=34), rec("nlmeans", "PolyU-test", 37.0, sigma=4, n=34),
                  rec("photo", "PolyU-test", 38.0, 0.966, n=34), rec("pd", "PolyU-test", 38.1, n=34)],
        "polyu_tuned_sigma": {"nlmeans": 4},
        "cbsd68_blind": [rec("photo", "CBSD68", p, sigma=s, n=68) for s, p in zip(SIGMAS, (33.6, 31.0, 27.6))],
        "cbsd68_gaussian_true_sigma": [rec("gaussian", "CBSD68", p, sigma=s, n=68) for s, p in zip(SIGMAS, (33.69, 31.08, 27.90))],
        "cbsd68_jpeg": [rec("photo", "CBSD68+jpeg80", 28.0, sigma=25), rec("gaussian", "CBSD68+jpeg80", 25.86, sigma=25)],
        "speed": {"mp_per_s": 1.5, "threads": 2, "dncnn_mp_per_s": 0.1, "speedup_vs_dncnn": 15.0, "size": 1024,
                  "dncnn_layout": "NCHW", "photo": {"seconds": 11.0, "peak_memory_gb": 1.6},
                  "peers": {"ffdnet": 0.6, "pd": 0.02}},
    }


def test_photo_card_shows_every_section_and_which_targets_were_met(tmp_path):
    write_run(tmp_path, 6000.0, preset="photo", init="gaussian", pairs=["data/PolyU"], pairs_split="train")
    card = render_card(photo_results(), tmp_path, "owner/denoiser-photo")
    assert "## Phone noise: SIDD12 smartphone crops (12 pairs, mean PSNR)" in card
    assert "| **photo** (this model) | blind | 34.61 | 0.9000 |" in card
    assert "| nlmeans (σ 4 tuned on the train scenes) | blind | 37.00 | 0.9000 |" in card
    assert "| difference | -0.09 | -0.08 | -0.30 |" in card
    assert "| SIDD12, blind, strength 1 | ≥ 35.0 dB | 34.61 | missed |" in card
    assert "| SIDD12, mean best strength | 0.9–1.1 | 1.00 | met |" in card
    assert "0.75, 1, 1.25): 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.25, 0.75; mean **1.00**" in card
    assert "told its best σ per image" in card and "34.00 dB" in card
    assert "| PD-Denoising (the authors' weights and real-image setting, measured here) | blind | 32.95 |" in card
    assert "| SIDD12: ours − PD-Denoising, same inputs, same run | > 0 dB | +1.66 | met |" in card
    assert "| PolyU test: ours − PD-Denoising, same inputs, same run | > 0 dB | -0.10 | missed |" in card
    assert "| PolyU test, blind | ≥ 38.4 dB | 38.00 | missed |" in card
    assert "| -0.09 / -0.08 / -0.30 | missed |" in card  # σ 50 is 0.30 below: outside 0.2 dB
    assert "| CBSD68 σ 25 then JPEG 80 | ≥ 28.3 dB | 28.00 | missed |" in card
    assert "| ≥ 2× | 2.5× | met |" in card  # 1.5 MP/s against FFDNet's 0.6
    assert "--pairs data/PolyU" in card and "--init gaussian" in card and "--pairs-split train" in card
    assert "--preset photo" in card and card.rstrip().endswith("results.json`._")


def test_each_shipped_card_is_the_render_of_its_results():
    """A shipped card is never edited by hand: it equals what `report --render-only` writes."""
    from pathlib import Path

    from denoiser.hub import SHIPPED_DIR, SHIPPED_MODELS
    from benchmarks.report import card_for

    checked = 0
    for name in SHIPPED_MODELS:
        folder = SHIPPED_DIR / name
        results = json.loads((folder / "results.json").read_text())
        card = folder / "README.md"
        assert card.read_text() == card_for(results, folder, card, f"denoiser-project/denoiser-{name}"), name
        checked += 1
    top = Path(__file__).resolve().parents[1] / "model_card.md"  # the repo's card is the default model's
    default = json.loads((SHIPPED_DIR / SHIPPED_MODELS[0] / "results.json").read_text())
    assert top.read_text() == card_for(default, SHIPPED_DIR / SHIPPED_MODELS[0], top, f"denoiser-project/denoiser-{SHIPPED_MODELS[0]}")
    assert checked == len(SHIPPED_MODELS) >= 2


def test_each_reference_card_is_the_render_of_its_results():
    """seed and seed-paper ship a results.json and a card of their own, never edited by hand."""
    from denoiser.hub import REFERENCE_MODELS, SHIPPED_DIR
    from benchmarks.report import card_for

    for name in REFERENCE_MODELS:
        folder = SHIPPED_DIR / name
        results = json.loads((folder / "results.json").read_text())
        assert results["kind"] == "seed" and results["cbsd68"], name
        card = folder / "README.md"
        assert card.read_text() == card_for(results, folder, card, f"denoiser-project/denoiser-{name}"), name


def test_staged_training_lists_each_stage_and_chains_init(tmp_path):
    from benchmarks.report_training import training_stages

    stage = tmp_path / "stages" / "1"
    stage.mkdir(parents=True)
    write_run(stage, 3000.0, preset="photo", init="gaussian", steps=3500)
    write_run(tmp_path, 600.0, preset="photo", init="/somewhere/run/model", estimator_only=True, steps=800)
    stages = training_stages(tmp_path, "photo")
    assert [s["steps"] for s in stages] == [3500, 800] and [round(s["minutes"]) for s in stages] == [50, 10]
    assert "--init gaussian" in stages[0]["command"] and stages[0]["command"].endswith("--out runs/photo-stage1")
    assert "--init runs/photo-stage1/model" in stages[1]["command"] and "--estimator-only" in stages[1]["command"]
    card = render_card(photo_results(), tmp_path, "owner/denoiser-photo")
    assert "Stage 1 of 2: 3500 steps in 50 minutes" in card and "Stage 2 of 2: 800 steps in 10 minutes" in card


def test_readme_training_commands_are_the_shipped_configs():
    """The README's training commands are written from each shipped model's train_config.json."""
    from pathlib import Path

    from denoiser.hub import SHIPPED_DIR, SHIPPED_MODELS
    from benchmarks.report_training import README_COMMANDS, training_commands_block

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start, end = README_COMMANDS
    written = readme.split(start, 1)[1].split(end, 1)[0].strip()
    assert written == training_commands_block({n: SHIPPED_DIR / n for n in SHIPPED_MODELS})
    assert "python -m train" in written and "--out runs/gaussian" in written


def test_readme_load_test_figures_are_the_kept_record():
    """The README's load-test block is rendered from docs/load_test.json, the run it quotes."""
    from pathlib import Path

    from tools.load_test_report import README_END, README_START, RECORD, render_block

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme[readme.index(README_START): readme.index(README_END) + len(README_END)]
    record = json.loads(RECORD.read_text())
    assert block == render_block(record)
    assert record["result"]["failures"] == 0 and "photo" in record["result"]["model"]


def test_photo_card_lists_the_tmbsn_students_on_both_real_noise_tables_and_in_the_speed_table(tmp_path):
    """The self-supervised peers appear beside ours with their PSNR / SSIM on SIDD12 and PolyU test, and
    with their speed and fastest layout; `pd` keeps its own row."""
    def rec(method, dataset, psnr, ssim, n):
        return {"method": method, "dataset": dataset, "sigma": None, "psnr": psnr, "ssim": ssim, "n": n}

    def net(mp, layout):
        return {"mp_per_s": mp, "layout": layout, "by_layout": {"NCHW": mp / 2, layout: mp}}

    results = photo_results()
    results["sidd12"] += [rec("tmbsn-sidd", "SIDD12", 37.0, 0.9123, 12), rec("tmbsn-dnd", "SIDD12", 36.19, 0.9051, 12)]
    results["polyu"] += [rec("tmbsn-sidd", "PolyU-test", 36.59, 0.949, 34), rec("tmbsn-dnd", "PolyU-test", 36.61, 0.95, 34)]
    results["speed"]["networks"] = {"ours": net(1.5, "channels_last"), "tmbsn-sidd": net(0.3, "channels_last"),
                                    "tmbsn-dnd": net(0.32, "channels_last")}
    card = render_card(results, tmp_path, "owner/denoiser-photo")
    sidd, polyu = card.split("## Phone noise")[1].split("## Camera noise")
    assert "| TM-BSN student, SIDD (self-supervised on SIDD-Medium's noisy phone photos; " in sidd
    assert "the authors' weights, measured here) | blind | 37.00 | 0.9123 |" in sidd
    assert "| TM-BSN student, DND (self-supervised on DND's noisy camera photos; the authors' weights, " \
           "measured here) | blind | 36.19 | 0.9051 |" in sidd
    assert "measured here) | blind | 36.59 | 0.9490 |" in polyu and "measured here) | blind | 36.61 | 0.9500 |" in polyu
    assert "| TM-BSN student, SIDD (the authors' weights; 16 px border) | 0.300 | channels_last |" in card
    assert "| TM-BSN student, DND (the authors' weights) | 0.320 | channels_last | 0.160 | 0.320 | 4.7× as fast |" in card


def test_photo_report_runs_the_blind_peers_on_both_real_noise_sets(tmp_path):
    """measure_photo gives every blind peer (PD-Denoising, the TM-BSN students) the same SIDD12 and PolyU
    test inputs as ours; a peer that takes a noise level (FFDNet) is only timed."""
    from types import SimpleNamespace

    from benchmarks.report_photo import measure_photo

    for name in ("SIDD12", "PolyU"):
        (tmp_path / "real" / name).mkdir(parents=True)
    calls = []

    class Run:
        def __call__(self, section, method, **kwargs):
            calls.append((section, getattr(method, "name", method), kwargs.get("split")))

        def best_per_image(self, *args, **kwargs):
            pass

        def tuned_on_train(self, *args, **kwargs):
            pass

    def peer(name, noise_map):
        return SimpleNamespace(name=name, config=SimpleNamespace(noise_map=noise_map))

    peers = [peer("pd", False), peer("tmbsn-sidd", False), peer("tmbsn-dnd", False), peer("ffdnet", True)]
    measure_photo(Run(), peer("photo", True), tmp_path, [], peers)
    for name in ("pd", "tmbsn-sidd", "tmbsn-dnd"):
        assert ("sidd12", name, None) in calls and ("polyu", name, "test") in calls
    assert not any(method == "ffdnet" for _, method, _ in calls)


def test_adapted_runs_land_in_their_own_set_labelled_adapted(tmp_path):
    """Two protocols on every real-noise table: the adapt run's row says *adapted* (and how long), the rest *blind*;
    a run adapted on another folder or split is refused rather than shown under the wrong set."""
    from benchmarks.adapted import adapted_models, read_adapted_run

    data = tmp_path / "data"
    for name in ("SIDD12", "PolyU"):
        (data / "real" / name / "noisy").mkdir(parents=True)

    def adapt_run(folder, noisy, split):
        run = tmp_path / folder
        run.mkdir()
        (run / "train_config.json").write_text(json.dumps({"noisy": [str(noisy)], "noisy_split": split,
                                                           "init": ["photo"], "clean": [], "pairs": []}))
        (run / "log.json").write_text(json.dumps([{"step": 140, "seconds": 60.0}]))
        return run

    sidd_run = adapt_run("a", data / "real" / "SIDD12", "all")
    assert read_adapted_run(sidd_run).section(data) == "sidd12"
    assert read_adapted_run(adapt_run("b", data / "real" / "PolyU", "test")).section(data) == "polyu"
    with pytest.raises(ValueError, match="adapted on"):
        adapted_models((str(adapt_run("c", data / "real" / "PolyU", "all")),), data)
    measured = adapt_run("d", data / "real" / "SIDD12", "all")  # adapt's measured-noise run: generic clean photos
    (measured / "train_config.json").write_text(json.dumps({"noise_from": [str(data / "real" / "SIDD12")], "noisy": [],
                                                            "clean": [str(tmp_path / "train")], "init": ["photo"]}))
    assert read_adapted_run(measured).section(data) == "sidd12"
    (measured / "train_config.json").write_text(json.dumps({"noise_from": [str(data / "real" / "SIDD12")], "noisy": [],
                                                            "clean": [str(data / "real" / "SIDD12" / "gt")]}))
    with pytest.raises(ValueError, match="overlap"):  # its own references as the clean photos: not adapted, cheating
        read_adapted_run(measured)

    results = photo_results()
    label = read_adapted_run(sidd_run).label
    results["sidd12"].append({"method": label, "dataset": "SIDD12", "sigma": None, "psnr": 34.4, "ssim": 0.9, "n": 12})
    card = render_card(results, tmp_path, "owner/denoiser-photo")
    assert "| photo adapted on these noisy images (140 steps, 1.0 min, `denoiser adapt`) | adapted | 34.40 |" in card
    assert "| **photo** (this model) | blind | 34.61 |" in card and "Protocols: *blind*" in card
    assert "| SIDD12, adapted on its noisy images (140 steps, 1.0 min, `denoiser adapt`) | ≥ 36.0 dB | 34.40 | missed |" in card
