"""`python -m benchmarks report` end to end on a tiny model and a tiny data folder: every section the
Gaussian card reads is measured, the card is the render of what was written, and --speed-only
re-times the speed section alone. Timing is stubbed (speed is the benchmark's job, not a test's)."""

import datetime
import json
import subprocess

import numpy as np
import pytest
import torch

from denoiser.hub import save_model
from denoiser.io import write_image
from denoiser.model import build_model, preset
from benchmarks.recorder import ReportInputs
from benchmarks.report import card_for, remeasure_speed, write_report

from app_support import ROOT
from conftest import DATA, tiny_config

FFDNET = DATA.parent / "peers" / "ffdnet_color.safetensors"


@pytest.fixture
def setup(tmp_path, monkeypatch, held_out_files):
    from skimage import data

    import benchmarks.recorder as recorder

    root = tmp_path / "data"
    for name, image in (("a.png", data.astronaut()), ("b.png", data.coffee())):
        write_image(root / "CBSD68" / name, image[100:148, 100:164])
    for i in range(10):  # ImageNet-val (the manifest below): n000.png alone
        write_image(root / "train" / "ImageNet1000" / f"n{i:03d}.png", data.chelsea()[i * 10 : i * 10 + 40, :56])
    held_out_files([root / "train" / "ImageNet1000" / "n000.png"])
    write_image(root / "BSD68" / "g.png", data.camera()[:40, :48])
    torch.manual_seed(0)
    model_dir = save_model(build_model(tiny_config()), tmp_path / "tiny")
    seed_dir = save_model(build_model(preset("seed", seed_depth=2, seed_filters=8)), tmp_path / "tiny-seed")
    calls = []
    monkeypatch.setattr(recorder, "measure_throughput", lambda model, peers=(): calls.append(["ours", *[p.name for p in peers]])
                        or _stub_speed(peers))
    monkeypatch.setattr(recorder, "photo_in_fresh_process", lambda source: {"seconds": 5.0, "peak_memory_gb": 1.0})
    peers = (f"ffdnet={FFDNET}",) if FFDNET.is_file() else ()
    return ReportInputs(str(model_dir), root, seed_models=(str(seed_dir),), peers=peers), tmp_path, calls


def _stub_speed(peers) -> dict:
    def net(mp_per_s, layout):
        other = "NCHW" if layout == "channels_last" else "channels_last"
        return {"mp_per_s": mp_per_s, "layout": layout, "by_layout": {layout: mp_per_s, other: mp_per_s / 2}}

    networks = {"ours": net(3.0, "channels_last"), "DnCNN": net(0.15, "NCHW"), **{p.name: net(1.0, "NCHW") for p in peers}}
    speed = {"threads": 1, "size": 1024, "mp_per_s": 2.0, "networks": networks, "dncnn_mp_per_s": 0.15,
             "dncnn_layout": "NCHW", "speedup_vs_dncnn": 20.0}
    return {**speed, "peers": {p.name: 1.0 for p in peers}} if peers else speed


def test_report_measures_every_section_and_writes_the_render(setup):
    inputs, tmp_path, calls = setup
    weights, card = tmp_path / "tiny", tmp_path / "card.md"
    results = write_report(inputs, weights, [card], "owner/tiny")

    assert json.loads((weights / "results.json").read_text()) == results
    assert card.read_text() == card_for(results, weights, card, "owner/tiny")
    assert {r["n"] for r in results["cbsd68"]} == {2} and [r["sigma"] for r in results["cbsd68"]] == [15, 25, 50]
    for section in ("cbsd68_noisy", "cbsd68_x8", "imagenet_val", "imagenet_val_noisy"):
        assert len(results[section]) == 3, section
    assert results["imagenet_val"][0]["n"] == 1 and results["cbsd68_blind"][0]["sigma"] == 25
    assert [r["dataset"] for r in results["gray"]] == ["BSD68"] * 3
    seed_rows = results["cbsd68_seed"]
    assert len(seed_rows) == 3 and seed_rows[0]["method"] == str(tmp_path / "tiny-seed")
    noisy = {r["sigma"]: r["psnr"] for r in results["cbsd68_noisy"]}
    assert all(abs(noisy[s] - p) > 1e-6 for s, p in ((r["sigma"], r["psnr"]) for r in results["cbsd68"]))
    if inputs.peers:  # the authors' FFDNet on the same noisy inputs, and timed beside ours
        assert len(results["cbsd68_peer"]) == 3 and len(results["imagenet_val_peer"]) == 3
        assert results["speed"]["peers"] == {"ffdnet": 1.0} and calls == [["ours", "ffdnet"]]  # timed in one run
        assert "| ours − ffdnet |" in card.read_text()
        assert "| FFDNet (the authors' weights) | 1.000 | NCHW | 1.000 | 0.500 | 3.0× as fast |" in card.read_text()
    assert results["speed"]["photo"]["seconds"] == 5.0 and calls[0][0] == "ours"
    # provenance: the code, the command, the date and the machine, recorded and printed
    prov = results["provenance"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert prov["revision"] == head and prov["threads"] == torch.get_num_threads() and prov["torch"] == torch.__version__
    assert prov["date"].startswith(str(datetime.date.today().year)) and prov["cpu"] and "command" in prov
    assert f"at revision `{head[:12]}`" in card.read_text() and prov["command"] in card.read_text()
    assert f"{prov['threads']} torch thread(s), torch {torch.__version__}" in card.read_text()
    assert "| DnCNN (17×64, random weights) | 0.150 | NCHW |" in card.read_text()


def test_speed_only_keeps_the_measurements_and_re_renders(setup):
    inputs, tmp_path, _ = setup
    weights, card = tmp_path / "tiny", tmp_path / "card.md"
    with pytest.raises(FileNotFoundError, match="run the whole report first"):
        remeasure_speed(inputs, weights, [card], "owner/tiny")
    kept = {"model": "tiny", "kind": "gaussian", "parameters": 1, "macs_per_pixel": 1.0,
            "cbsd68": [{"method": "tiny", "dataset": "CBSD68", "sigma": 25, "psnr": 30.0, "ssim": 0.8, "n": 2}]}
    (weights / "results.json").write_text(json.dumps(kept))
    results = remeasure_speed(inputs, weights, [card], "owner/tiny")
    assert results["cbsd68"] == kept["cbsd68"] and results["speed"]["mp_per_s"] == 2.0
    assert json.loads((weights / "results.json").read_text()) == results
    assert card.read_text() == card_for(results, weights, card, "owner/tiny") and "2.00 megapixels/s" in card.read_text()
    assert np.isclose(results["speed"]["speedup_vs_dncnn"], 20.0)
    assert "provenance" not in results and results["speed"]["provenance"]["command"]  # only the speed was re-timed
    assert "Speed re-timed on" in card.read_text() and "Measured on" not in card.read_text()
    assert "The measurements other than speed: not recorded" in card.read_text()


def test_a_reference_network_gets_its_own_small_report(setup):
    """seed / seed-paper: CBSD68 at σ 25 on a few images (blind), the noisy input beside it, no speed."""
    inputs, tmp_path, calls = setup
    seed_dir, card = tmp_path / "tiny-seed", tmp_path / "seed.md"
    results = write_report(ReportInputs(str(seed_dir), inputs.data), seed_dir, [card], "owner/seed")
    assert results["kind"] == "seed" and "speed" not in results and calls == []
    assert [(r["sigma"], r["n"]) for r in results["cbsd68"]] == [(25, 2)] and results["cbsd68_noisy"][0]["n"] == 2
    text = card.read_text()
    assert text == card_for(results, seed_dir, card, "owner/seed") and "the first 2 of its images" in text
    assert f"| **{results['model']}** (blind) | **{results['cbsd68'][0]['psnr']:.2f}** |" in text and "## Provenance" in text
