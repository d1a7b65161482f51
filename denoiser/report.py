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

# Colour AWGN on CBSD68, published (sigma 15 / 25 / 50).
PUBLISHED = [
    ("CBM3D", (33.52, 30.71, 27.38), "Dabov et al., ICIP 2007; as reported by Zhang et al., TIP 2017"),
    ("CDnCNN", (33.90, 31.24, 27.95), "Zhang et al., Beyond a Gaussian Denoiser, TIP 2017"),
    ("FFDNet", (33.87, 31.21, 27.96), "Zhang et al., FFDNet, TIP 2018"),
    ("DRUNet", (34.30, 31.69, 28.51), "Zhang et al., Plug-and-Play Image Restoration, TPAMI 2021"),
]
TARGET = (33.95, 31.30, 28.00)
SIGMAS = (15, 25, 50)
# The training options the card's command shows (the rest do not change the weights), and the
# optional ones with the setting that switches each on (shown only when it is set).
COMMAND_KEYS = ("noise", "preset", "loss", "lr", "min_lr", "warmup", "clip_grad", "ema", "batch", "patch",
                "late_patch", "late_fraction", "steps", "threads", "seed")
OPTIONAL_KEYS = {"clip_grad": "clip_grad", "late_patch": "late_patch", "late_fraction": "late_patch"}
TUNED_BASELINES = ("nlmeans", "blur")  # strength (the sigma they are given) tuned on PolyU's train split
TUNING_GRID = (2, 4, 6, 8, 12, 16, 24)


@dataclass
class ReportInputs:
    model_source: str | None
    data: Path
    seed_model: str | None = None
    compare: tuple[str, ...] = ()  # other models scored beside it on the real-noise sets
    limit: int | None = None


def measure(inputs: ReportInputs, progress=print) -> dict:
    """Run every evaluation the card reports; returns JSON-ready records grouped by section."""
    from .benchmark import measure_throughput, photo_in_fresh_process
    from .hub import load_model
    from .model import count_parameters, macs_per_pixel

    from .inference import has_estimator

    model = load_model(inputs.model_source)
    data, limit = inputs.data, inputs.limit
    out: dict = {"model": model.name, "kind": "photo" if has_estimator(model) else "gaussian",
                 "parameters": count_parameters(model), "macs_per_pixel": macs_per_pixel(model)}
    if out["kind"] == "photo":
        from .report_photo import measure_photo

        return {**out, **measure_photo(model, inputs.model_source, data, list(inputs.compare), limit, progress)}

    def run(section: str, method, **kwargs) -> None:
        records = evaluate(method, limit=limit, **kwargs)
        out.setdefault(section, []).extend(r.summary() for r in records)
        for r in records:
            progress(f"{section}: {r.method} {r.dataset} sigma={r.sigma} PSNR {r.psnr:.2f} SSIM {r.ssim:.4f}")

    if (data / "CBSD68").is_dir():
        run("cbsd68", model, clean=data / "CBSD68", sigmas=SIGMAS)
        run("cbsd68_noisy", "noisy", clean=data / "CBSD68", sigmas=SIGMAS)  # what doing nothing scores
        run("cbsd68_blind", model, clean=data / "CBSD68", sigmas=(25,), blind=True)
        run("cbsd68_x8", model, clean=data / "CBSD68", sigmas=SIGMAS, ensemble=True)
        if inputs.seed_model:
            seed = load_model(inputs.seed_model)
            run("cbsd68_seed", seed, clean=data / "CBSD68", sigmas=SIGMAS)
            out["seed_training"] = _training_budget(Path(inputs.seed_model), "runs/seed")
    for gray in ("BSD68", "Set12"):
        if (data / gray).is_dir():
            run("gray", model, clean=data / gray, sigmas=SIGMAS)
    polyu = data / "real" / "PolyU"
    if polyu.is_dir():  # the test scenes of the standard split; nothing here was trained or tuned on them
        run("polyu", "noisy", pairs=polyu, split="test")
        out["polyu_tuned_sigma"] = {}
        for method in TUNED_BASELINES:
            tuning = evaluate(method, pairs=polyu, split="train", sigmas=TUNING_GRID, limit=limit)
            best = max(tuning, key=lambda r: r.psnr).sigma
            out["polyu_tuned_sigma"][method] = best
            run("polyu", method, pairs=polyu, split="test", sigmas=(best,))
        run("polyu", model, pairs=polyu, split="test")
        for other in inputs.compare:
            compared = load_model(other)
            compared.name = Path(other).name or other
            run("polyu", compared, pairs=polyu, split="test")
    speed = measure_throughput(model)
    speed["photo"] = photo_in_fresh_process(inputs.model_source)
    out["speed"] = speed
    progress(f"speed: {speed['mp_per_s']:.3f} MP/s, DnCNN {speed['dncnn_mp_per_s']:.3f} MP/s, "
             f"12 MP in {speed['photo']['seconds']:.1f} s, peak {speed['photo']['peak_memory_gb']:.2f} GB")
    return out


def _row(records: list[dict], dataset: str | None = None) -> dict:
    return {r["sigma"]: r for r in records if dataset is None or r["dataset"] == dataset}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_card(results: dict, weights_dir: Path, repo_id: str, assets: str = "") -> str:
    """Markdown model card (with Hub front matter and model-index) from `measure()`'s results;
    `assets` prefixes the image links (the card may live beside the weights or elsewhere)."""
    if results.get("kind") == "photo":
        return _render_photo_card(results, weights_dir, repo_id, assets)
    cbsd = _row(results.get("cbsd68", []))
    ours = [cbsd.get(s, {}).get("psnr") for s in SIGMAS]
    lines = [_front_matter(results, repo_id), f"# {repo_id.split('/')[-1]}: a CPU-friendly denoising autoencoder", ""]
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
    lines += _training_section(weights_dir, assets, results["model"])
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


def _training_budget(weights_dir: Path, command_out: str | None = None) -> dict | None:
    """Steps and minutes from the training log shipped beside a model's weights, if there is one;
    with `command_out`, also the command that trained it (writing to that run folder)."""
    log_path = weights_dir / "log.json"
    if not log_path.is_file():
        return None
    last = json.loads(log_path.read_text())[-1]
    budget = {"steps": last["step"], "minutes": last["seconds"] / 60}
    config_path = weights_dir / "train_config.json"
    if command_out and config_path.is_file():
        budget["command"] = _training_command(json.loads(config_path.read_text()), command_out)
    return budget


# Options that do not change the weights (or name where they go), left out of a card's command.
NOT_IN_COMMAND = ("out", "resume", "from_checkpoint", "push_to_hub", "private", "revision", "log_every",
                  "checkpoint_every", "device")


def _training_command(config: dict, out: str) -> str:
    """The `python -m train` command line that reproduces a run, from its train_config.json: the
    data, then the core recipe (always shown), then every other option that differs from its default."""
    import dataclasses

    from train.config import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    args = []
    for key in ("clean", "pairs"):
        if config.get(key):
            args.append(f"--{key} " + " ".join(config[key]))
    shown = [k for k in COMMAND_KEYS if k not in OPTIONAL_KEYS or config.get(OPTIONAL_KEYS[k])]
    shown += [k for k in defaults if k not in shown and k not in ("clean", "pairs", *NOT_IN_COMMAND)
              and k in config and _plain(config[k]) != _plain(defaults[k])]
    for key in shown:
        value = config[key]
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{key.replace('_', '-')}")
        elif isinstance(value, (list, tuple)):
            args.append(f"{flag} " + " ".join(str(v) for v in value))
        else:
            args.append(f"{flag} {_quote(value)}")
    return "python -m train " + " ".join(args) + f" --out {out}"


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _quote(value) -> str:
    import shlex

    return shlex.quote(str(value))


def _front_matter(results: dict, repo_id: str) -> str:
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


def training_stages(weights_dir: Path, name: str) -> list[dict]:
    """The runs that made a shipped model, oldest first: {"command", "steps", "minutes", "threads"}.
    A model fine-tuned in stages keeps each earlier run's train_config.json and log.json in
    `stages/<k>/`; a stage's --init then points at the previous stage's exported model."""
    folders = sorted((p for p in (weights_dir / "stages").glob("*") if p.is_dir()), key=lambda p: p.name)
    folders.append(weights_dir)
    stages, previous_out = [], None
    for index, folder in enumerate(folders):
        config_path = folder / "train_config.json"
        if not config_path.is_file():
            continue
        config = json.loads(config_path.read_text())
        if previous_out and config.get("init"):
            config["init"] = f"{previous_out}/model"  # the exported model of the stage before
        out = f"runs/{name}" if folder == weights_dir else f"runs/{name}-stage{index + 1}"
        budget = _training_budget(folder) or {}
        selected = json.loads((folder / "selected.json").read_text()) if (folder / "selected.json").is_file() else None
        stages.append({"command": _training_command(config, out), "steps": budget.get("steps"),
                       "minutes": budget.get("minutes"), "threads": config.get("threads") or "default",
                       "selected": selected})
        previous_out = out
    return stages


def _training_section(weights_dir: Path, assets: str, name: str = "gaussian") -> list[str]:
    stages = training_stages(weights_dir, name)
    if not stages:
        return []
    lines = ["", "## Training", ""]
    for i, stage in enumerate(stages):
        if len(stages) > 1:
            lines.append(f"Stage {i + 1} of {len(stages)}:" + ("" if stage["steps"] is None else
                         f" {stage['steps']} steps in {stage['minutes']:.0f} minutes on this machine "
                         f"({stage['threads']} CPU thread(s))."))
        elif stage["steps"] is not None:
            lines.append(f"{stage['steps']} steps in {stage['minutes']:.0f} minutes on this machine "
                         f"({stage['threads']} CPU thread(s)).")
        lines += ["", "```bash", stage["command"], "```", ""]
        if stage.get("selected"):
            chosen = stage["selected"]
            why = ", the one with the lowest validation loss" if chosen["checkpoint"] == "best" else ""
            lines += [f"Shipped: the `{chosen['checkpoint']}` checkpoint of that run (step {chosen['step']}, "
                      f"{chosen['weights']} weights){why}.", ""]
    lines += [f"![training curves]({assets}curves.png)", "", f"![noisy / reference / denoised]({assets}samples.png)"]
    return lines


README_COMMANDS = ("<!-- training-commands:start -->", "<!-- training-commands:end -->")


def training_commands_block(models: dict[str, Path]) -> str:
    """The README's block of the commands that trained each shipped model (from their configs)."""
    lines = ["```bash"]
    for name, folder in models.items():
        for i, stage in enumerate(training_stages(folder, name)):
            lines.append(f"# {name}" + (f", stage {i + 1}" if (folder / "stages").is_dir() else "")
                         + ("" if stage["steps"] is None else f": {stage['steps']} steps, {stage['minutes']:.0f} min"))
            lines.append(stage["command"])
    return "\n".join(lines + ["```"])


def write_readme_block(readme: Path, block: str) -> None:
    """Replace the text between the training-commands markers of `readme` with `block`."""
    from .files import atomic_write_text

    text = readme.read_text()
    start, end = README_COMMANDS
    if start not in text or end not in text:
        raise ValueError(f"{readme}: no {start} ... {end} markers to write the training commands between")
    head, rest = text.split(start, 1)
    atomic_write_text(readme, head + start + "\n" + block + "\n" + end + rest.split(end, 1)[1])


def _render_photo_card(results: dict, weights_dir: Path, repo_id: str, assets: str) -> str:
    from .report_photo import render_photo

    name = results["model"]
    lines = [_front_matter(results, repo_id), f"# {repo_id.split('/')[-1]}: denoising for real photos, on a CPU", ""]
    lines += [
        "The default model of `denoiser`. The same encoder–decoder as the `gaussian` model, with a small noise",
        "estimator in front (as in CBDNet, Guo et al., CVPR 2019): a five-layer CNN on 4×4-unshuffled pixels predicts",
        "a per-pixel noise-level map; its median is the noise level the denoiser is given (as an extra input),",
        "and `strength` scales it: 1 is the estimate, lower keeps grain and texture, higher removes more.",
        "",
        "Trained on clean photos (CBSD432 and the 900 training images of ImageNet1000, those of 400 px or more",
        "downscaled 2× for cleaner targets) with a random mix of white Gaussian noise; Gaussian noise with",
        "correlated channels, optionally resize-correlated and JPEG-compressed (quality 30–95); and sensor",
        "noise added in linear raw after unprocessing (inverse tone curve, gamma, colour matrix and white-balance",
        "gains; Bayer mosaic; Poisson–Gaussian noise with read noise tied to shot noise), demosaicked, processed",
        "back and, half the time, JPEG-compressed (Brooks et al., CVPR 2019; Zhang et al., 2023); plus the real",
        "pairs of PolyU's train scenes; a second stage adds heavier and blotchy raw noise (block-averaged, as a",
        "phone's own processing leaves it). The estimator learns the true local noise level with CBDNet's",
        "asymmetric loss (under-estimates cost more); `denoise()` uses the median of its map as the image's",
        "noise level (on validation data that beat feeding the per-pixel map, which reads texture as noise).",
        "Started from the `gaussian` model's weights.",
        "",
        f"- Parameters: {results['parameters'] / 1e6:.2f} M; multiply-adds per pixel: {results['macs_per_pixel'] / 1e3:.1f} k",
    ]
    lines += render_photo(results)
    lines += _training_section(weights_dir, assets, name)
    lines += [
        "", "## Use", "", "```python", "import denoiser", "",
        "model = denoiser.load_model()  # the photo model",
        "image = denoiser.read_image(\"photo.jpg\")",
        "print(denoiser.estimate_noise(image, model).describe())",
        "clean = denoiser.denoise(image, model)                # strength 1: the estimated noise map",
        "gentler = denoiser.denoise(image, model, strength=0.6)  # keep more grain", "```",
        "", "## Limitations", "",
        "- The noise estimate reads fine texture (foliage, fabric, hair) partly as noise; lower the strength",
        "  where such detail matters.",
        "- Trained on synthetic camera pipelines and one real-pair set (PolyU); very heavy phone noise in the",
        "  dark, banding and hot pixels are outside what it saw.",
        "", "## Data and licence", "",
        "Training images: BSDS500 (CBSD432; research and non-commercial use, Martin et al., ICCV 2001), ImageNet",
        "samples (non-commercial research; Deng et al., CVPR 2009) and PolyU (non-commercial, Xu et al.,",
        "arXiv:1804.02603). SIDD12 (Abdelhamed et al., CVPR 2018) was used for validation only. The code is MIT;",
        "use the weights accordingly.",
        "", f"_Generated by `python -m denoiser report` from the measurements in `{weights_dir.name}/results.json`._", "",
    ]
    return "\n".join(lines)


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
