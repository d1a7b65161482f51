"""`python -m denoiser report`: measure a model and write its model card from the measurements.

One generator for every shipped model: `measure()` picks the sections for the model's kind
("photo": real-noise sets, blind; "gaussian": the AWGN benchmark), writes them to the weights
folder's results.json, and `render_card()` turns any results.json back into the same card.
Every number in the card comes from that file (or from the training log shipped beside the
weights); the published rows are cited constants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .evaluate import evaluate
from .report_training import training_budget, training_section

# Colour AWGN on CBSD68, published (sigma 15 / 25 / 50).
PUBLISHED = [
    ("CBM3D", (33.52, 30.71, 27.38), "Dabov et al., ICIP 2007; as reported by Zhang et al., TIP 2017"),
    ("CDnCNN", (33.90, 31.24, 27.95), "Zhang et al., Beyond a Gaussian Denoiser, TIP 2017"),
    ("FFDNet", (33.87, 31.21, 27.96), "Zhang et al., FFDNet, TIP 2018"),
    ("DRUNet", (34.30, 31.69, 28.51), "Zhang et al., Plug-and-Play Image Restoration, TPAMI 2021"),
]
TARGET = (33.95, 31.30, 28.00)
SIGMAS = (15, 25, 50)
TUNED_BASELINES = ("nlmeans", "blur")  # strength (the sigma they are given) tuned on PolyU's train split
TUNING_GRID = (2, 4, 6, 8, 12, 16, 24)


@dataclass
class ReportInputs:
    model_source: str | None
    data: Path
    seed_model: str | None = None
    compare: tuple[str, ...] = ()  # other models scored beside it on the real-noise sets
    limit: int | None = None


class Recorder:
    """Runs `evaluate()` for one section of results.json and prints each record as it lands."""

    def __init__(self, out: dict, limit: int | None, progress=print) -> None:
        self.out, self.limit, self.progress = out, limit, progress

    def __call__(self, section: str, method, **kwargs) -> None:
        records = evaluate(method, limit=self.limit, **kwargs)
        self.out.setdefault(section, []).extend(r.summary() for r in records)
        for r in records:
            self.progress(f"{section}: {r.method} {r.dataset} sigma={r.sigma} PSNR {r.psnr:.2f} SSIM {r.ssim:.4f}")

    def tuned_on_train(self, section: str, pairs: Path, methods: tuple[str, ...]) -> None:
        """Each classical method at the strength (sigma) that scores best on the train scenes of
        `pairs`, then scored on its test scenes; the chosen strengths go to polyu_tuned_sigma."""
        tuned = self.out.setdefault("polyu_tuned_sigma", {})
        for method in methods:
            tuning = evaluate(method, pairs=pairs, split="train", sigmas=TUNING_GRID, limit=self.limit)
            tuned[method] = max(tuning, key=lambda r: r.psnr).sigma
            self(section, method, pairs=pairs, split="test", sigmas=(tuned[method],))

    def speed(self, model, source: str | None) -> None:
        from .benchmark import measure_throughput, photo_in_fresh_process

        speed = measure_throughput(model)
        speed["photo"] = photo_in_fresh_process(source)
        self.out["speed"] = speed
        self.progress(f"speed: {speed['mp_per_s']:.3f} MP/s, DnCNN {speed['dncnn_mp_per_s']:.3f} MP/s, "
                      f"12 MP in {speed['photo']['seconds']:.1f} s, peak {speed['photo']['peak_memory_gb']:.2f} GB")


def compared_models(sources: tuple[str, ...]) -> list:
    """The --compare models, each named by its folder (not its full path) in the tables."""
    from .hub import load_model

    models = []
    for source in sources:
        model = load_model(source)
        model.name = Path(source).name or source
        models.append(model)
    return models


def measure(inputs: ReportInputs, progress=print) -> dict:
    """Run every evaluation the card reports; returns JSON-ready records grouped by section."""
    from .hub import load_model
    from .inference import has_estimator
    from .model import count_parameters, macs_per_pixel

    model = load_model(inputs.model_source)
    data = inputs.data
    out: dict = {"model": model.name, "kind": "photo" if has_estimator(model) else "gaussian",
                 "parameters": count_parameters(model), "macs_per_pixel": macs_per_pixel(model)}
    run = Recorder(out, inputs.limit, progress)
    if out["kind"] == "photo":
        from .report_photo import measure_photo

        measure_photo(run, model, data, compared_models(inputs.compare))
    else:
        _measure_gaussian(run, model, inputs)
    run.speed(model, inputs.model_source)
    return out


def _measure_gaussian(run: Recorder, model, inputs: ReportInputs) -> None:
    from .hub import load_model

    data = inputs.data
    if (data / "CBSD68").is_dir():
        run("cbsd68", model, clean=data / "CBSD68", sigmas=SIGMAS)
        run("cbsd68_noisy", "noisy", clean=data / "CBSD68", sigmas=SIGMAS)  # what doing nothing scores
        run("cbsd68_blind", model, clean=data / "CBSD68", sigmas=(25,), blind=True)
        run("cbsd68_x8", model, clean=data / "CBSD68", sigmas=SIGMAS, ensemble=True)
        if inputs.seed_model:
            run("cbsd68_seed", load_model(inputs.seed_model), clean=data / "CBSD68", sigmas=SIGMAS)
            run.out["seed_training"] = training_budget(Path(inputs.seed_model), "runs/seed")
    for gray in ("BSD68", "Set12"):
        if (data / gray).is_dir():
            run("gray", model, clean=data / gray, sigmas=SIGMAS)
    polyu = data / "real" / "PolyU"
    if polyu.is_dir():  # the test scenes of the standard split; nothing here was trained or tuned on them
        run("polyu", "noisy", pairs=polyu, split="test")
        run.tuned_on_train("polyu", polyu, TUNED_BASELINES)
        for method in (model, *compared_models(inputs.compare)):
            run("polyu", method, pairs=polyu, split="test")


def _row(records: list[dict], dataset: str | None = None) -> dict:
    return {r["sigma"]: r for r in records if dataset is None or r["dataset"] == dataset}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_card(results: dict, weights_dir: Path, repo_id: str, assets: str = "") -> str:
    """Markdown model card (with Hub front matter and model-index) from `measure()`'s results;
    `assets` prefixes the image links (the card may live beside the weights or elsewhere)."""
    if results.get("kind") == "photo":
        from .report_photo import render_photo_card

        return render_photo_card(results, weights_dir, repo_id, assets)
    cbsd = _row(results.get("cbsd68", []))
    ours = [cbsd.get(s, {}).get("psnr") for s in SIGMAS]
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
        "clipped, output rounded to 8 bits, RGB PSNR (`denoiser.evaluate`).",
        "",
        "| method | σ=15 | σ=25 | σ=50 | source |",
        "|---|---|---|---|---|",
    ]
    noisy = _row(results.get("cbsd68_noisy", []))
    if noisy:
        lines.append(f"| noisy input (no denoising) | {' | '.join(_fmt(noisy.get(s, {}).get('psnr')) for s in SIGMAS)} | measured here |")
    for name, values, cite in PUBLISHED:
        lines.append(f"| {name} | {' | '.join(f'{v:.2f}' for v in values)} | published: {cite} |")
    lines.append(f"| target | {' | '.join(f'≥ {v:.2f}' for v in TARGET)} | |")
    lines.append(f"| **ours** | {' | '.join(f'**{_fmt(v)}**' for v in ours)} | measured here |")
    x8 = _row(results.get("cbsd68_x8", []))
    if x8:
        lines.append(f"| ours, ×8 self-ensemble (8× slower) | {' | '.join(_fmt(x8.get(s, {}).get('psnr')) for s in SIGMAS)} | measured here |")
    seed, seed_note = _row(results.get("cbsd68_seed", [])), []
    if seed:
        budget = results.get("seed_training") or {}
        trained = f", {budget['steps']} steps / {budget['minutes']:.0f} min" if budget else ""
        lines.append(f"| seed preset (paper's network{trained}) | {' | '.join(_fmt(seed.get(s, {}).get('psnr')) for s in SIGMAS)} | measured here |")
        if budget.get("command"):
            seed_note = ["", "The seed row is the paper's autoencoder (Conv2d encoder, ConvTranspose2d decoder, no noise map)",
                         "trained with our recipe and data on this machine, for as many steps as fit in about our time budget:", "",
                         "```bash", budget["command"], "```"]
    blind = _row(results.get("cbsd68_blind", [])).get(25)
    if blind and cbsd.get(25):
        lines += ["", f"Blind (σ estimated from each image) at σ = 25: {blind['psnr']:.2f} dB "
                      f"({blind['psnr'] - cbsd[25]['psnr']:+.2f} dB vs. the true σ). SSIM at σ 15/25/50: "
                      + " / ".join(_fmt(cbsd.get(s, {}).get('ssim'), 4) for s in SIGMAS) + "."]
    lines += seed_note
    gray = results.get("gray", [])
    if gray:
        lines += ["", "## Gray images (the colour model on replicated channels; PSNR dB)", "",
                  "| dataset | σ=15 | σ=25 | σ=50 |", "|---|---|---|---|"]
        for dataset in dict.fromkeys(r["dataset"] for r in gray):
            row = _row(gray, dataset)
            lines.append(f"| {dataset} | {' | '.join(_fmt(row.get(s, {}).get('psnr')) for s in SIGMAS)} |")
    polyu = results.get("polyu", [])
    if polyu:
        n = polyu[0]["n"]
        tuned = results.get("polyu_tuned_sigma", {})
        lines += ["", f"## Real camera noise: PolyU test scenes ({n} pairs)", "",
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
    speed = results.get("speed")
    if speed:
        photo = speed["photo"]
        lines += ["", "## Speed (this machine's CPU)", "",
                  f"- {speed['mp_per_s']:.2f} megapixels/s for RGB through `denoise()` on {speed['threads']} threads;",
                  f"  a DnCNN-architecture network (17×64, random weights, {speed.get('dncnn_layout', 'channels_last')}, "
                  f"{speed.get('dncnn_size', 256)}²) runs at {speed['dncnn_mp_per_s']:.3f} MP/s in the",
                  f"  same run: {speed['speedup_vs_dncnn']:.1f}× faster.",
                  f"- A 12-megapixel photo (4000×3000): {photo['seconds']:.1f} s, peak memory {photo['peak_memory_gb']:.2f} GB.",
                  "", "Measured by `python -m denoiser benchmark`."]
    lines += training_section(weights_dir, assets, results["model"])
    lines += [
        "", "## Use", "", "```python", "import denoiser", "", "model = denoiser.load_model(\"gaussian\")  # or a folder / \"owner/repo@revision\"",
        "clean = denoiser.denoise(denoiser.read_image(\"noisy.png\"), model, sigma=None)  # sigma: 0-255 scale", "```",
        "", "## Limitations", "",
        "- Trained on synthetic additive white Gaussian noise (σ 0–75); for real photos use the `photo` model.",
        "- Above σ = 75 it has never seen the noise level; the estimate of σ is for white noise and",
        "  under-estimates spatially correlated noise.",
        "", "## Data and licence", "",
        "Trained on CBSD432 (Berkeley Segmentation Dataset 500 minus the 68 test images); evaluated on",
        "CBSD68 / BSD68 / Set12 and PolyU. BSDS images are distributed for research and non-commercial use",
        "(Martin et al., ICCV 2001; Arbelaez et al., TPAMI 2011); PolyU is non-commercial (Xu et al.,",
        "arXiv:1804.02603). The code is MIT; use the weights accordingly.",
        "", f"_Generated by `python -m denoiser report` from the measurements in `{weights_dir.name}/results.json`._", "",
    ]
    return "\n".join(lines)


def front_matter(results: dict, repo_id: str) -> str:
    metrics = []
    for r in results.get("cbsd68", []):
        metrics.append(
            f"    - task:\n        type: image-to-image\n        name: Image Denoising (AWGN sigma={r['sigma']:g})\n"
            f"      dataset:\n        type: CBSD68\n        name: CBSD68\n"
            f"      metrics:\n        - type: psnr\n          value: {r['psnr']:.2f}\n          name: PSNR\n"
            f"        - type: ssim\n          value: {r['ssim']:.4f}\n          name: SSIM"
        )
    index = f"model-index:\n  - name: {repo_id.split('/')[-1]}\n    results:\n" + "\n".join(metrics) if metrics else ""
    return ("---\nlibrary_name: denoiser\nlicense: other\nlicense_name: bsds-research-use\npipeline_tag: image-to-image\n"
            "tags:\n  - image-denoising\n  - autoencoder\n  - pytorch\ndatasets:\n  - CBSD68\n" + index + "\n---\n")


def write_report(inputs: ReportInputs, weights_dir: Path, card_paths: list[Path], repo_id: str) -> dict:
    """Measure, then write results.json into the weights folder and the card to each path
    (image links are made relative to each card's folder)."""
    from .files import atomic_write_text

    results = measure(inputs)
    atomic_write_text(weights_dir / "results.json", json.dumps(results, indent=1) + "\n")
    for path in card_paths:
        atomic_write_text(path, card_for(results, weights_dir, path, repo_id))
    return results


def card_for(results: dict, weights_dir: Path, path: Path, repo_id: str) -> str:
    """The card for `results` as written to `path` (image links relative to the card's folder)."""
    import os

    relative = os.path.relpath(weights_dir.resolve(), path.resolve().parent)
    assets = "" if relative == "." else relative.replace(os.sep, "/") + "/"
    return render_card(results, weights_dir, repo_id, assets)
