"""The photo model's measurements and card sections (used by `python -m benchmarks report`).

Real noise first: SIDD12 (phone crops; the set the shipped checkpoint was selected on) and the
PolyU test scenes (scored once, for the card), then what the photo model costs on synthetic
noise against the Gaussian model told the true sigma, then speed against DnCNN on one harness.
"""

from __future__ import annotations

from pathlib import Path

from denoiser.hub import load_model

from .adapted import ADAPTED_PREFIX, protocol
from .card_parts import by_sigma, front_matter
from .recorder import SIGMAS, Recorder
from .provenance import provenance_lines
from .report_training import training_section
from .speed_card import speed_lines

JPEG_SIGMA, JPEG_QUALITY = 25, 80
TUNED_BASELINES = ("nlmeans",)  # strength tuned on PolyU's train scenes
# Targets of issue 27 (learning from real noisy photos), printed beside the measurements so a reader sees what was met.
TARGETS = {"sidd12": 35.0, "sidd12_adapted": 36.0, "best_strength": (0.9, 1.1), "polyu_psnr": 38.4,
           "polyu_adapted": 38.7, "awgn_gap": 0.2, "jpeg": 28.3, "speedup_vs_ffdnet": 2.0}
STRENGTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)  # searched per image: is strength 1 the best one?
ORACLE_SIGMAS = (5, 10, 15, 20, 30, 40, 50, 60)  # the gaussian model told each level: what our parts can do
# Other groups' models on the real-noise tables (never shipped; benchmarks.peers). Each is blind at test
# time: none saw these test images, but the TM-BSN students learned from noisy photos of the same kind.
PEER_LABELS = {
    "pd": "PD-Denoising (the authors' weights and real-image setting, measured here)",
    "tmbsn-sidd": "TM-BSN student, SIDD (self-supervised on SIDD-Medium's noisy phone photos; the authors' weights, measured here)",
    "tmbsn-dnd": "TM-BSN student, DND (self-supervised on DND's noisy camera photos; the authors' weights, measured here)",
}


PROTOCOLS = ("Protocols: *blind*, the model as shipped (or as its authors published it), which never saw these "
             "test images; *adapted*, fine-tuned by `denoiser adapt` on this set's own noisy images (never its "
             "references), then scored on them, as self-supervised papers report it.")


def measure_photo(run: Recorder, model, data: Path, others: list, peers: list = (), adapted: list = ()) -> None:
    """Every evaluation the photo card reports, recorded by `run`. `others`: models (e.g. the
    previous photo model) scored beside it on the real-noise sets and the JPEG row; `peers`: other
    groups' models, the blind ones (PD-Denoising, the TM-BSN students) scored on the same real-noise inputs;
    `adapted`: (section, model) from `benchmarks.adapted`, each scored on the set it adapted on."""
    gaussian = load_model("gaussian")
    blind_peers = [p for p in peers if not p.config.noise_map]
    sidd = data / "real" / "SIDD12"
    if sidd.is_dir():
        for method in ("noisy", model, gaussian, *others, *blind_peers, *(m for s, m in adapted if s == "sidd12")):
            run("sidd12", method, pairs=sidd)
        run.best_per_image("sidd12_strength", model, pairs=sidd, strengths=STRENGTHS)
        run.best_per_image("sidd12_gaussian_oracle", gaussian, pairs=sidd, sigmas=ORACLE_SIGMAS)
    polyu = data / "real" / "PolyU"
    if polyu.is_dir():
        run("polyu", "noisy", pairs=polyu, split="test")
        run.tuned_on_train("polyu", polyu, TUNED_BASELINES)
        for method in (model, gaussian, *others, *blind_peers, *(m for s, m in adapted if s == "polyu")):
            run("polyu", method, pairs=polyu, split="test")
    cbsd = data / "CBSD68"
    if cbsd.is_dir():
        run("cbsd68_blind", model, clean=cbsd, sigmas=SIGMAS, blind=True)
        run("cbsd68_gaussian_true_sigma", gaussian, clean=cbsd, sigmas=SIGMAS)
        for method in (model, gaussian, *others):
            run("cbsd68_jpeg", method, clean=cbsd, sigmas=(JPEG_SIGMA,), jpeg_quality=JPEG_QUALITY)


def _name(record: dict, model_name: str, tuned: dict) -> str:
    method = record["method"]
    if method == "noisy":
        return "noisy input"
    if method in tuned:
        return f"{method} (σ {tuned[method]:g} tuned on the train scenes)"
    if method == model_name:
        return f"**{method}** (this model)"
    if method == "gaussian":
        return "gaussian (σ from the white-noise estimate)"
    if method in PEER_LABELS:
        return PEER_LABELS[method]
    if method.startswith(ADAPTED_PREFIX):
        return method[len(ADAPTED_PREFIX):]
    return method


def _best_setting_lines(results: dict) -> list[str]:
    """SIDD12: the photo model at its best strength per image, and the gaussian model told its best σ."""
    lines = []
    strength = results.get("sidd12_strength")
    if strength:
        lines += ["", f"Best strength per image (of {', '.join(f'{v:g}' for v in strength['values'])}): "
                  f"{', '.join(f'{v:g}' for v in strength['best'])}; mean **{strength['mean_best']:.2f}** "
                  f"(1 means the estimate is the level that works best). At those strengths: "
                  f"{strength['psnr']:.2f} dB / {strength['ssim']:.4f}."]
    oracle = results.get("sidd12_gaussian_oracle")
    if oracle:
        lines += ["", f"The `gaussian` model told its best σ per image (of {', '.join(f'{v:g}' for v in oracle['values'])}; "
                  f"an oracle that needs the clean image): {oracle['psnr']:.2f} dB / {oracle['ssim']:.4f} "
                  f"(σ {', '.join(f'{v:g}' for v in oracle['best'])})."]
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def render_photo(results: dict) -> list[str]:
    """The photo card's measurement sections (markdown lines)."""
    name, tuned, lines = results["model"], results.get("polyu_tuned_sigma", {}), []
    best, peer = {}, {}
    for section, title, note in (
        ("sidd12", "Phone noise: SIDD12 smartphone crops",
         "Validation data: the shipped checkpoint was selected on it (no SIDD image was trained on)."),
        ("polyu", "Camera noise: PolyU test scenes",
         "The standard scene split (`denoiser.evaluate.scene_split`); scored once, for this card."),
    ):
        records = results.get(section, [])
        if not records:
            continue
        lines += ["", f"## {title} ({records[0]['n']} pairs, mean PSNR)", "", note, "", PROTOCOLS, "",
                  "| method | protocol | PSNR | SSIM |", "|---|---|---|---|"]
        for r in records:
            lines.append(f"| {_name(r, name, tuned)} | {protocol(r['method'])} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
        best[section] = next((r for r in records if r["method"] == name), None)
        peer[section] = next((r for r in records if r["method"] == "pd"), None)
        if section == "sidd12":
            lines += _best_setting_lines(results)
    blind, true_sigma = by_sigma(results.get("cbsd68_blind", [])), by_sigma(results.get("cbsd68_gaussian_true_sigma", []))
    gaps = {}
    if blind and true_sigma:
        lines += ["", "## White Gaussian noise: CBSD68 (PSNR dB)", "",
                  "The photo model is told nothing; the Gaussian model is given the true σ.", "",
                  "| | " + " | ".join(f"σ={s}" for s in SIGMAS) + " |", "|---" * (len(SIGMAS) + 1) + "|"]
        lines.append(f"| {name}, blind | " + " | ".join(f"{blind[s]['psnr']:.2f}" for s in SIGMAS) + " |")
        lines.append("| gaussian, true σ | " + " | ".join(f"{true_sigma[s]['psnr']:.2f}" for s in SIGMAS) + " |")
        gaps = {s: blind[s]["psnr"] - true_sigma[s]["psnr"] for s in SIGMAS}
        lines.append("| difference | " + " | ".join(f"{gaps[s]:+.2f}" for s in SIGMAS) + " |")
    jpeg = results.get("cbsd68_jpeg", [])
    jpeg_ours = None
    if jpeg:
        lines += ["", f"## Noise, then JPEG: CBSD68, σ {JPEG_SIGMA} then JPEG quality {JPEG_QUALITY} (every method blind)", "",
                  "| method | PSNR | SSIM |", "|---|---|---|"]
        for r in jpeg:
            lines.append(f"| {_name(r, name, tuned)} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
        jpeg_ours = next(r["psnr"] for r in jpeg if r["method"] == name)
    speed = results.get("speed")
    if speed:
        photo = speed["photo"]
        lines += ["", "## Speed (this machine's CPU)", "", *speed_lines(speed, name, {"ffdnet": TARGETS["speedup_vs_ffdnet"]}),
                  f"- A 12-megapixel photo (4000×3000): {photo['seconds']:.1f} s, peak memory {photo['peak_memory_gb']:.2f} GB."]
    lines += _targets(results, best, peer, gaps, jpeg_ours, speed)
    return lines


def _targets(results: dict, best: dict, peer: dict, gaps: dict, jpeg_ours, speed) -> list[str]:
    """The targets table: each check, its target, the measurement and whether it was met."""
    lines = ["", "## Targets", "", "| check | target | measured | |", "|---|---|---|---|"]
    if best.get("sidd12"):
        v = best["sidd12"]["psnr"]
        lines.append(f"| SIDD12, blind, strength 1 | ≥ {TARGETS['sidd12']} dB | {v:.2f} | {_met(v >= TARGETS['sidd12'])} |")
    if results.get("sidd12_strength"):
        low, high = TARGETS["best_strength"]
        mean = results["sidd12_strength"]["mean_best"]
        shown = round(mean, 2)  # judged as printed: 13.2 / 12 is 1.1000000000000003
        lines.append(f"| SIDD12, mean best strength | {low}–{high} | {shown:.2f} | {_met(low <= shown <= high)} |")
    if best.get("polyu"):
        p = best["polyu"]["psnr"]
        lines.append(f"| PolyU test, blind | ≥ {TARGETS['polyu_psnr']} dB | {p:.2f} | {_met(p >= TARGETS['polyu_psnr'])} |")
    for section, label, target in (("sidd12", "SIDD12", "sidd12_adapted"), ("polyu", "PolyU test", "polyu_adapted")):
        for r in results.get(section, []):
            if protocol(r["method"]) == "adapted":
                lines.append(f"| {label}, adapted on its noisy images ({r['method'].split('(')[-1].rstrip(')')}) | "
                             f"≥ {TARGETS[target]} dB | {r['psnr']:.2f} | {_met(r['psnr'] >= TARGETS[target])} |")
    if gaps:
        worst = min(gaps.values())
        lines.append(f"| CBSD68 AWGN, blind vs gaussian with true σ | within {TARGETS['awgn_gap']} dB | "
                     f"{' / '.join(f'{g:+.2f}' for g in gaps.values())} | {_met(worst >= -TARGETS['awgn_gap'])} |")
    if jpeg_ours is not None:
        lines.append(f"| CBSD68 σ {JPEG_SIGMA} then JPEG {JPEG_QUALITY} | ≥ {TARGETS['jpeg']} dB | {jpeg_ours:.2f} | "
                     f"{_met(jpeg_ours >= TARGETS['jpeg'])} |")
    for section, label in (("sidd12", "SIDD12"), ("polyu", "PolyU test")):
        if best.get(section) and peer.get(section):
            diff = best[section]["psnr"] - peer[section]["psnr"]
            lines.append(f"| {label}: ours − PD-Denoising, same inputs, same run | > 0 dB | {diff:+.2f} | {_met(diff > 0)} |")
    ffdnet = (speed or {}).get("peers", {}).get("ffdnet")
    if ffdnet and "networks" in speed:  # network against network, each in its fastest layout
        ratio = speed["networks"]["ours"]["mp_per_s"] / ffdnet
        lines.append(f"| speed with the estimate vs FFDNet, RGB {speed['size']}², fastest layouts | "
                     f"≥ {TARGETS['speedup_vs_ffdnet']:g}× | {ratio:.1f}× | {_met(ratio >= TARGETS['speedup_vs_ffdnet'])} |")
    elif ffdnet:
        ratio = speed["mp_per_s"] / ffdnet
        lines.append(f"| speed with the estimate vs FFDNet, RGB {speed['size']}² (not layout-fair) | "
                     f"≥ {TARGETS['speedup_vs_ffdnet']:g}× | {ratio:.1f}× | {_met(ratio >= TARGETS['speedup_vs_ffdnet'])} |")
    return lines


def render_photo_card(results: dict, weights_dir: Path, repo_id: str, assets: str) -> str:
    """The photo model's card: what it is and how it was trained, the measurements, the training runs,
    provenance, use, limitations, data."""
    name = results["model"]
    lines = [front_matter(results, repo_id), f"# {repo_id.split('/')[-1]}: denoising for real photos, on a CPU", ""]
    lines += _description(results)
    lines += render_photo(results)
    lines += training_section(weights_dir, assets, name)
    lines += provenance_lines(results)
    lines += _use() + _limitations(results) + _data_and_licence(weights_dir)
    return "\n".join(lines)


def _description(results: dict) -> list[str]:
    """The model, its calibrated level, its training noise and the white-noise check."""
    return [
        "The default model of `denoiser`, v3. The `deep` preset's encoder–decoder (that of `gaussian` v4), with a small",
        "noise estimator in front (as in CBDNet, Guo et al., CVPR 2019): a five-layer CNN on 4×4-unshuffled pixels",
        "predicts a per-pixel noise-level map; its median is the noise level the denoiser is given (as an extra input),",
        "and `strength` scales it: 1 is the estimate, lower keeps grain and texture, higher removes more.",
        "",
        "**A calibrated level.** The estimator does not learn the noise's standard deviation: a denoiser trained on",
        "white noise needs a higher level to remove spatially correlated noise (demosaicked, in-camera denoised,",
        "sharpened, JPEG'd) of the same std. So it is trained end to end *through* the denoiser, with one level per",
        "patch (the median of its map, as `denoise()` uses it), for the level that minimises the denoiser's error.",
        "On white noise that is close to σ; on phone noise it is higher.",
        "",
        "Training noise: white Gaussian; Gaussian with correlated channels, optionally resize-correlated and",
        "JPEG-compressed; sensor noise in linear raw after unprocessing (Brooks et al., CVPR 2019); and **phone noise**",
        "(`denoiser_train.phone.Phone`): raw Poisson–Gaussian levels from SIDD's per-phone noise-level functions (five",
        "phones, ISO 100–3200), one of 201 real camera response curves (DoRF, as in CBDNet), in-camera noise",
        "reduction (high-frequency chroma removed, low-frequency colour blotches left), unsharp-mask sharpening",
        "and JPEG 70–97; plus the real pairs of PolyU's train scenes. Clean photos: CBSD432 and the 900 training",
        "images of ImageNet1000 (those of 400 px or more downscaled 2× for cleaner targets).",
        "",
        "**Real camera noise (v3).** Up to v2 the model had only seen synthetic noise. v3's denoiser is v2's (that of",
        "`gaussian` v4) fine-tuned with the noise *measured* on DND33's noisy camera photos in the mix",
        "(`--noise-from`, noise kind `fitted`: each photo's noise-level function and colour and spatial correlation,",
        "read in its flat regions, no clean version needed; see the README's \"Adapt to your camera\"), drawn at up",
        "to 3× the measured level so that heavy phone-like noise is covered, beside the synthetic kinds and PolyU's",
        "train pairs. The fine-tune alone cost white-noise quality, so the shipped weights average it with the",
        "starting ones (weight-space ensembling, WiSE-FT: Wortsman et al., CVPR 2022; the weights are under Training):",
        "most of the gain on camera noise stays, most of the white-noise loss goes. The estimator is v2's, unchanged:",
        "trained (from `photo` v1's) through v2's denoiser, 800 steps on this machine's CPU, it did not learn to tell",
        "white noise from correlated noise: it reads white noise at 1.5–2.4× its σ too.",
        "Anchoring it to σ on white noise (`--estimator-target white`) pulled every level back down and cost",
        "SIDD12 5 dB on validation. So `denoise()` adds a **white-noise check**: the ratio of the learned level to",
        "the wavelet (white-noise) estimate is 1.5–2.4 on white noise and 2.9–25 on correlated camera noise",
        "(validation: ImageNet-val with AWGN, resize-correlated noise, SIDD12, PolyU's train scenes); below 2.1",
        "it votes for the wavelet estimate (right on white noise), above 2.7 for the learned level, a blend between.",
        "That ratio alone read AWGN that was then JPEG'd as white (1.0–1.5), so a second test votes too: the ratio of",
        "fine chroma to luma noise, about 1 for white RGB noise and below 0.1 once JPEG's 4:2:0 chroma subsampling",
        "(or demosaicking) has removed the fine chroma noise (0.49–1.01 on AWGN σ 5–50, 0.00–0.09 on the same AWGN",
        "then JPEG 70–95, ImageNet-val). The wavelet estimate is used only where both say white",
        "(`denoiser.white_noise`).",
        "",
        f"- Parameters: {results['parameters'] / 1e6:.2f} M; multiply-adds per pixel: {results['macs_per_pixel'] / 1e3:.1f} k",
    ]


def _use() -> list[str]:
    """How to call it, in PyTorch and outside it."""
    return [
        "", "## Use", "", "```python", "import denoiser", "",
        "model = denoiser.load_model()  # the photo model",
        "image = denoiser.read_image(\"photo.jpg\")",
        "print(denoiser.estimate_noise(image, model).describe())",
        "clean = denoiser.denoise(image, model)                # strength 1: the estimated noise map",
        "gentler = denoiser.denoise(image, model, strength=0.6)  # keep more grain", "```",
        "", "Outside PyTorch: `denoiser export-onnx photo` writes `model.onnx` (the denoiser) and `estimator.onnx`",
        "(the noise map) for onnxruntime; the README's ONNX section shows the blind pipeline around them.",
    ]


def _limitations(results: dict) -> list[str]:
    """What it gets wrong, each measured."""
    return _limitation_lines() + _adapting_lost(results)


def _adapting_lost(results: dict) -> list[str]:
    """A line for each set where the adapted model scored below the shipped one: adapting is not always a gain."""
    lines = []
    for section, label in (("sidd12", "SIDD12"), ("polyu", "PolyU test")):
        rows = results.get(section, [])
        blind = next((r["psnr"] for r in rows if r["method"] == results["model"]), None)
        for row in rows:
            if blind is not None and protocol(row["method"]) == "adapted" and row["psnr"] < blind:
                lines += [f"- On {label} adapting *lowered* PSNR, {blind:.2f} to {row['psnr']:.2f} dB (the adapted row",
                          "  above): try `adapt` on a few of your photos and compare with the plain model before using it",
                          "  on all of them."]
    return lines


def _limitation_lines() -> list[str]:
    return [
        "", "## Limitations", "",
        "- The noise estimate reads fine texture (foliage, fabric, hair) partly as noise; lower the strength",
        "  where such detail matters.",
        "- Mildly correlated noise whose level-to-white ratio falls between 2.1 and 2.7 gets a blend that can",
        "  under-read it; raise the strength if noise is left.",
        "- Coarse-grained colour noise (grain of 2–3 px, as in RNI15's \"Boy\") is read at about half the level it",
        "  needs: colour mottling is left at strength 1 and goes at about 2.",
        "- Light white noise (σ ≲ 5) falls in the blend too and is read up to ~1.9× too high (ImageNet-val, σ 5),",
        "  which smooths fine texture; lower the strength for such images.",
        "- Trained on synthetic camera pipelines, one real-pair set (PolyU) and the noise measured on 33 consumer-camera",
        "  photos (DND33); very heavy phone noise in the dark, banding and hot pixels are outside what it saw.",
        "- It never saw a phone's own noise: on SIDD12 it trails the self-supervised TM-BSN students (above).",
        "  The *adapted* rows show what `denoiser adapt` recovers from a set's own noisy photos alone; an adapted",
        "  model has learned that camera's noise (its level per brightness, colour and grain), not a general one.",
    ]


def _data_and_licence(weights_dir: Path) -> list[str]:
    """The data it learned from, their licences, and where the card came from."""
    return [
        "", "## Data and licence", "",
        "Training images: BSDS500 (CBSD432; research and non-commercial use, Martin et al., ICCV 2001), ImageNet",
        "samples (non-commercial research; Deng et al., CVPR 2009) and PolyU (non-commercial, Xu et al.,",
        "arXiv:1804.02603). SIDD12 (Abdelhamed et al., CVPR 2018) was used for validation only. The code is MIT;",
        "use the weights accordingly.",
        "", f"_Generated by `python -m benchmarks report` from the measurements in `{weights_dir.name}/results.json`._", "",
    ]
