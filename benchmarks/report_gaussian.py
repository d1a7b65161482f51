"""The Gaussian model's report: what `python -m benchmarks report --model gaussian` measures (CBSD68,
ImageNet-val, the gray sets, PolyU, speed; a peer such as the authors' FFDNet and the seed network
on the same noisy inputs in the same run) and the card rendered from those measurements."""

from __future__ import annotations

import json
from pathlib import Path

from denoiser.hub import load_model, shipped_folder

from .card_parts import by_sigma, front_matter
from .provenance import provenance_lines
from .recorder import SIGMAS, compared_models
from .speed_card import speed_lines
from .report_training import training_budget, training_section

# Colour AWGN on CBSD68, published (sigma 15 / 25 / 50).
PUBLISHED = [
    ("CBM3D", (33.52, 30.71, 27.38), "Dabov et al., ICIP 2007; as reported by Zhang et al., TIP 2017"),
    ("CDnCNN", (33.90, 31.24, 27.95), "Zhang et al., Beyond a Gaussian Denoiser, TIP 2017"),
    ("FFDNet", (33.87, 31.21, 27.96), "Zhang et al., FFDNet, TIP 2018"),
    ("DRUNet", (34.30, 31.69, 28.51), "Zhang et al., Plug-and-Play Image Restoration, TPAMI 2021"),
]
TUNED_BASELINES = ("nlmeans", "blur")  # strength (the sigma they are given) tuned on PolyU's train split
IMAGENET = Path("train") / "ImageNet1000"  # its fixed ImageNet-val split (every 10th file) is never trained on
PEER_MARGIN = {"CBSD68": 0.05, "ImageNet-val": 0.10}  # the targets: at least this many dB above the peer


def measure_gaussian(run, model, inputs, peers: list) -> None:
    """Every section of a Gaussian model's results.json, the peers and seed networks on the same inputs."""
    data = inputs.data
    seeds = [(source, load_model(source)) for source in inputs.seed_models]
    cbsd = data / "CBSD68"
    if cbsd.is_dir():
        run("cbsd68", model, clean=cbsd, sigmas=SIGMAS)
        run("cbsd68_noisy", "noisy", clean=cbsd, sigmas=SIGMAS)  # what doing nothing scores
        run("cbsd68_blind", model, clean=cbsd, sigmas=(25,), blind=True)
        run("cbsd68_x8", model, clean=cbsd, sigmas=SIGMAS, ensemble=True)
        for peer in peers:
            run("cbsd68_peer", peer, clean=cbsd, sigmas=SIGMAS)
        for source, seed in seeds:  # the paper's network takes no noise level: blind by construction
            run("cbsd68_seed", seed, clean=cbsd, sigmas=SIGMAS, blind=True)
            run.out.setdefault("seed_training", {})[seed.name] = _budget(source, seed.name)
    imagenet = data / IMAGENET
    if imagenet.is_dir():
        run("imagenet_val", model, clean=imagenet, split="val", sigmas=SIGMAS)
        run("imagenet_val_noisy", "noisy", clean=imagenet, split="val", sigmas=SIGMAS)
        for peer in peers:
            run("imagenet_val_peer", peer, clean=imagenet, split="val", sigmas=SIGMAS)
    for gray in ("BSD68", "Set12"):
        if (data / gray).is_dir():
            run("gray", model, clean=data / gray, sigmas=SIGMAS)
    polyu = data / "real" / "PolyU"
    if polyu.is_dir():  # the test scenes of the standard split; nothing here was trained or tuned on them
        run("polyu", "noisy", pairs=polyu, split="test")
        run.tuned_on_train("polyu", polyu, TUNED_BASELINES)
        for method in (model, *compared_models(inputs.compare)):
            run("polyu", method, pairs=polyu, split="test")


def _budget(source: str, name: str) -> dict | None:
    folder = shipped_folder(source) or Path(source)
    budget = training_budget(folder, f"runs/{name}")
    config_path = folder / "train_config.json"
    if budget and config_path.is_file():
        config = json.loads(config_path.read_text())
        budget.update({k: config.get(k) for k in ("loss", "lr", "schedule", "ema", "batch", "patch", "device")})
    return budget


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cells(row: dict, bold: bool = False) -> str:
    values = [_fmt(row.get(s, {}).get("psnr")) for s in SIGMAS]
    return " | ".join(f"**{v}**" for v in values) if bold else " | ".join(values)


def _versus(ours: dict, theirs: dict) -> str:
    diffs = [(ours.get(s, {}).get("psnr"), theirs.get(s, {}).get("psnr")) for s in SIGMAS]
    return " | ".join("—" if a is None or b is None else f"{a - b:+.2f}" for a, b in diffs)


def _peer_rows(results: dict, section: str, ours: dict, dataset: str) -> list[str]:
    lines = []
    for name in dict.fromkeys(r["method"] for r in results.get(section, [])):
        theirs = by_sigma([r for r in results[section] if r["method"] == name])
        margin = PEER_MARGIN.get(dataset, 0.0)
        lines.append(f"| {name} (the authors' weights, run here on the same noisy inputs) | {_cells(theirs)} | measured here |")
        lines.append(f"| target: {name} + {margin:.2f} | "
                     + " | ".join(f"≥ {theirs[s]['psnr'] + margin:.2f}" if s in theirs else "—" for s in SIGMAS) + " | |")
        lines.append(f"| ours − {name} | {_versus(ours, theirs)} | same run |")
    return lines


def _seed_rows(results: dict) -> tuple[list[str], list[str]]:
    """A row per seed network (the paper's autoencoder) and a note with each one's recipe and command."""
    records, budgets = results.get("cbsd68_seed", []), results.get("seed_training") or {}
    rows, notes = [], []
    for name in dict.fromkeys(r["method"] for r in records):
        budget = budgets.get(name) or {}
        recipe = (f"{budget['loss'].upper()}, Adam {budget['lr']:g} {budget.get('schedule') or 'cosine'}"
                  + (f", EMA {budget['ema']:g}" if budget.get("ema") else "")) if budget.get("loss") else "recipe unknown"
        rows.append(f"| seed network ({name}: {recipe}) | {_cells(by_sigma([r for r in records if r['method'] == name]))} | measured here |")
        if budget.get("command"):
            where = "the lent GPU" if budget.get("device") == "cuda" else "this machine's CPU"
            notes += ["", f"`{name}`: {budget['steps']} steps of {budget.get('batch')}×{budget.get('patch')}² patches, "
                          f"{budget['minutes']:.1f} min on {where}:", "", "```bash", budget["command"], "```"]
    if notes:
        notes = ["", "The seed rows are the original paper's autoencoder (Conv2d encoder, ConvTranspose2d decoder,",
                 "no noise map, so blind by construction), trained under the same budget with two recipes:"] + notes
    return rows, notes


def render_gaussian_card(results: dict, weights_dir: Path, repo_id: str, assets: str = "") -> str:
    cbsd = by_sigma(results.get("cbsd68", []))
    lines = [front_matter(results, repo_id), f"# {repo_id.split('/')[-1]}: a CPU-friendly denoising autoencoder", ""]
    lines += [
        "A U-Net-style encoder–decoder (strided-conv encoder, transposed-conv decoder, additive skips,",
        "residual output) that takes a noise-level map as an extra input, so one blind model covers",
        "Gaussian noise from σ = 0 to 75 and the strength can be turned up or down. Without a given σ it",
        "estimates one from the image (wavelet MAD).",
        "",
        f"- Parameters: {results['parameters'] / 1e6:.2f} M; multiply-adds per pixel: {results['macs_per_pixel'] / 1e3:.1f} k",
        "",
        "## Colour AWGN on CBSD68 (PSNR dB, true σ given)",
        "",
        "Protocol: AWGN added to the float image with a generator seeded per image, noisy input not",
        "clipped, output rounded to 8 bits, RGB PSNR (`denoiser.evaluate`). Every method in a table below",
        "sees the same noisy images.",
        "",
        "| method | σ=15 | σ=25 | σ=50 | source |",
        "|---|---|---|---|---|",
    ]
    noisy = by_sigma(results.get("cbsd68_noisy", []))
    if noisy:
        lines.append(f"| noisy input (no denoising) | {_cells(noisy)} | measured here |")
    for name, values, cite in PUBLISHED:
        lines.append(f"| {name} | {' | '.join(f'{v:.2f}' for v in values)} | published: {cite} |")
    lines += _peer_rows(results, "cbsd68_peer", cbsd, "CBSD68")
    lines.append(f"| **ours** | {_cells(cbsd, bold=True)} | measured here |")
    x8 = by_sigma(results.get("cbsd68_x8", []))
    if x8:
        lines.append(f"| ours, ×8 self-ensemble (8× slower) | {_cells(x8)} | measured here |")
    seed_rows, seed_notes = _seed_rows(results)
    lines += seed_rows
    blind = by_sigma(results.get("cbsd68_blind", [])).get(25)
    if blind and cbsd.get(25):
        lines += ["", f"Blind (σ estimated from each image) at σ = 25: {blind['psnr']:.2f} dB "
                      f"({blind['psnr'] - cbsd[25]['psnr']:+.2f} dB vs. the true σ). SSIM at σ 15/25/50: "
                      + " / ".join(_fmt(cbsd.get(s, {}).get('ssim'), 4) for s in SIGMAS) + "."]
    lines += seed_notes
    lines += _imagenet_section(results)
    lines += _gray_and_polyu(results)
    lines += _speed_section(results)
    lines += training_section(weights_dir, assets, results["model"])
    lines += provenance_lines(results)
    lines += _closing(weights_dir)
    return "\n".join(lines)


def _imagenet_section(results: dict) -> list[str]:
    ours = by_sigma(results.get("imagenet_val", []))
    if not ours:
        return []
    n = next(iter(ours.values()))["n"]
    lines = ["", f"## Colour AWGN on ImageNet-val ({n} photos unlike BSD; PSNR dB, true σ given)", "",
             "ImageNet1000's fixed validation split (every 10th file in sorted order): never trained on. Same",
             "protocol as above.", "", "| method | σ=15 | σ=25 | σ=50 | source |", "|---|---|---|---|---|"]
    noisy = by_sigma(results.get("imagenet_val_noisy", []))
    if noisy:
        lines.append(f"| noisy input (no denoising) | {_cells(noisy)} | measured here |")
    lines += _peer_rows(results, "imagenet_val_peer", ours, "ImageNet-val")
    lines.append(f"| **ours** | {_cells(ours, bold=True)} | measured here |")
    return lines


def _gray_and_polyu(results: dict) -> list[str]:
    lines = []
    gray = results.get("gray", [])
    if gray:
        lines += ["", "## Gray images (the colour model on replicated channels; PSNR dB)", "",
                  "| dataset | σ=15 | σ=25 | σ=50 |", "|---|---|---|---|"]
        for dataset in dict.fromkeys(r["dataset"] for r in gray):
            lines.append(f"| {dataset} | {_cells(by_sigma(gray, dataset))} |")
    polyu = results.get("polyu", [])
    if polyu:
        tuned = results.get("polyu_tuned_sigma", {})
        lines += ["", f"## Real camera noise: PolyU test scenes ({polyu[0]['n']} pairs)", "",
                  "The standard scene split (`denoiser.evaluate.scene_split`): no test scene was used for",
                  "training or tuning. Classical rows use a strength (σ) tuned for PSNR on the train scenes;",
                  "the Gaussian model uses σ estimated per image; other models are blind.", "",
                  "| method | PSNR | SSIM |", "|---|---|---|"]
        for r in polyu:
            if r["method"] == "noisy":
                name = "noisy input"
            elif r["method"] in tuned:
                name = f"{r['method']} (σ {tuned[r['method']]:g}, tuned)"
            else:
                name = Path(r["method"]).name  # a compared model loaded from a folder: its folder name
            lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
        lines += ["", "The Gaussian model was trained on white Gaussian noise only; real sensor noise is signal-",
                  "dependent, spatially correlated and often JPEG-compressed, which is what the `photo` model is for."]
    return lines


def _speed_section(results: dict) -> list[str]:
    speed = results.get("speed")
    if not speed:
        return []
    photo = speed["photo"]
    return ["", "## Speed (this machine's CPU)", "", *speed_lines(speed, results["model"]),
            f"- A 12-megapixel photo (4000×3000) through `denoise()`: {photo['seconds']:.1f} s, peak memory "
            f"{photo['peak_memory_gb']:.2f} GB.",
            "", "Measured by `python -m benchmarks report` (the same harness as `python -m benchmarks benchmark`)."]


def _closing(weights_dir: Path) -> list[str]:
    config_path = weights_dir / "train_config.json"
    folders = json.loads(config_path.read_text()).get("clean", []) if config_path.is_file() else []
    names = [Path(f).name for f in folders] or ["CBSD432"]
    described = {"CBSD432": "CBSD432 (Berkeley Segmentation Dataset 500 minus the 68 test images)",
                 "ImageNet1000": "ImageNet1000's 900 training photos (one per class; its ImageNet-val split held out)"}
    return [
        "", "## Use", "", "```python", "import denoiser", "", "model = denoiser.load_model(\"gaussian\")  # or a folder / \"owner/repo@revision\"",
        "clean = denoiser.denoise(denoiser.read_image(\"noisy.png\"), model, sigma=None)  # sigma: 0-255 scale", "```",
        "", "## Limitations", "",
        "- Trained on synthetic additive white Gaussian noise (σ 0–75); for real photos use the `photo` model.",
        "- Above σ = 75 it has never seen the noise level; the estimate of σ is for white noise and",
        "  under-estimates spatially correlated noise.",
        "", "## Data and licence", "",
        "Trained on " + " and ".join(described.get(n, n) for n in names) + "; evaluated on CBSD68 / BSD68 /",
        "Set12, ImageNet-val and PolyU. BSDS images are distributed for research and non-commercial use",
        "(Martin et al., ICCV 2001; Arbelaez et al., TPAMI 2011); the ImageNet photos are for research use",
        "(Deng et al., CVPR 2009); PolyU is non-commercial (Xu et al., arXiv:1804.02603). The code is MIT;",
        "use the weights accordingly.",
        "", f"_Generated by `python -m benchmarks report` from the measurements in `{weights_dir.name}/results.json`._", "",
    ]
