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

SIGMAS = (15, 25, 50)  # the AWGN levels every card reports
TUNING_GRID = (2, 4, 6, 8, 12, 16, 24)


@dataclass
class ReportInputs:
    model_source: str | None
    data: Path
    seed_models: tuple[str, ...] = ()  # the paper's network, one row per trained recipe (Gaussian card)
    compare: tuple[str, ...] = ()  # other models scored beside it on the real-noise sets
    limit: int | None = None
    peers: tuple[str, ...] = ()  # NAME=PATH: another group's trained model run on the same noisy inputs


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

    def speed(self, model, source: str | None, peers: list = ()) -> None:
        from .benchmark import measure_throughput, peer_throughput, photo_in_fresh_process

        speed = measure_throughput(model)
        if peers:  # straight after ours, on the same image: the machine's speed drifts between runs
            # both through the same call with sigma 25 given, so neither pays for estimating it
            speed["ours_given_sigma_mp_per_s"] = peer_throughput(model)
            speed["peers"] = {peer.name: peer_throughput(peer) for peer in peers}
        speed["photo"] = photo_in_fresh_process(source)
        self.out["speed"] = speed
        self.progress(f"speed: {speed['mp_per_s']:.3f} MP/s, DnCNN {speed['dncnn_mp_per_s']:.3f} MP/s, "
                      f"12 MP in {speed['photo']['seconds']:.1f} s, peak {speed['photo']['peak_memory_gb']:.2f} GB")


def by_sigma(records: list[dict], dataset: str | None = None) -> dict:
    """{sigma: record} for one method's records (of one dataset, when given)."""
    return {r["sigma"]: r for r in records if dataset is None or r["dataset"] == dataset}


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
    from .peers import load_peer

    peers = [load_peer(spec) for spec in inputs.peers]  # load first: a bad path fails before any work
    model = load_model(inputs.model_source)
    data = inputs.data
    out: dict = {"model": model.name, "kind": "photo" if has_estimator(model) else "gaussian",
                 "parameters": count_parameters(model), "macs_per_pixel": macs_per_pixel(model)}
    run = Recorder(out, inputs.limit, progress)
    if out["kind"] == "photo":
        from .report_photo import measure_photo

        measure_photo(run, model, data, compared_models(inputs.compare))
    else:
        from .report_gaussian import measure_gaussian

        measure_gaussian(run, model, inputs, peers)
    run.speed(model, inputs.model_source, peers)
    return out


def remeasure_speed(inputs: ReportInputs, weights_dir: Path, card_paths: list[Path], repo_id: str) -> dict:
    """Re-time the speed section alone (with any peers) into an existing results.json, and re-render
    the cards: the rest of the measurements stay as they are."""
    from .hub import load_model
    from .peers import load_peer

    path = weights_dir / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the whole report first")
    results = json.loads(path.read_text())
    peers = [load_peer(spec) for spec in inputs.peers]
    Recorder(results, inputs.limit).speed(load_model(inputs.model_source), inputs.model_source, peers)
    _write(results, weights_dir, card_paths, repo_id)
    return results


def render_card(results: dict, weights_dir: Path, repo_id: str, assets: str = "") -> str:
    """Markdown model card (with Hub front matter and model-index) from `measure()`'s results;
    `assets` prefixes the image links (the card may live beside the weights or elsewhere)."""
    if results.get("kind") == "photo":
        from .report_photo import render_photo_card

        return render_photo_card(results, weights_dir, repo_id, assets)
    from .report_gaussian import render_gaussian_card

    return render_gaussian_card(results, weights_dir, repo_id, assets)


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
    results = measure(inputs)
    _write(results, weights_dir, card_paths, repo_id)
    return results


def _write(results: dict, weights_dir: Path, card_paths: list[Path], repo_id: str) -> None:
    from .files import atomic_write_text

    atomic_write_text(weights_dir / "results.json", json.dumps(results, indent=1) + "\n")
    write_cards(results, weights_dir, card_paths, repo_id)


def write_cards(results: dict, weights_dir: Path, card_paths: list[Path], repo_id: str) -> None:
    """Render `results` into each card path (image links relative to each card's folder)."""
    from .files import atomic_write_text

    for path in card_paths:
        atomic_write_text(path, card_for(results, weights_dir, path, repo_id))


def card_for(results: dict, weights_dir: Path, path: Path, repo_id: str) -> str:
    """The card for `results` as written to `path` (image links relative to the card's folder)."""
    import os

    relative = os.path.relpath(weights_dir.resolve(), path.resolve().parent)
    assets = "" if relative == "." else relative.replace(os.sep, "/") + "/"
    return render_card(results, weights_dir, repo_id, assets)
