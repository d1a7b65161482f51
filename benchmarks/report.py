"""`python -m benchmarks report`: measure a model and write its model card from the measurements.

One generator for every shipped model: `measure()` picks the sections for the model's kind
("photo": real-noise sets, blind; "gaussian": the AWGN benchmark), writes them to the weights
folder's results.json, and `render_card()` turns any results.json back into the same card.
Every number in the card comes from that file (or from the training log shipped beside the
weights); the published rows are cited constants.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from denoiser.files import atomic_write_text
from denoiser.hub import load_model
from denoiser.inference import has_estimator
from denoiser.model import count_parameters, macs_per_pixel

from .peers import load_peer
from .provenance import provenance
from .adapted import adapted_models
from .recorder import Recorder, ReportInputs, compared_models
from .report_gaussian import measure_gaussian, render_gaussian_card
from .report_photo import measure_photo, render_photo_card
from .report_seed import measure_seed, render_seed_card


def measure(inputs: ReportInputs, progress=print) -> dict:
    """Run every evaluation the card reports; returns JSON-ready records grouped by section."""
    peers = [load_peer(spec) for spec in inputs.peers]  # load first: a bad path fails before any work
    model = load_model(inputs.model_source)
    data = inputs.data
    out: dict = {"model": model.name, "kind": _kind(model),
                 "parameters": count_parameters(model), "macs_per_pixel": macs_per_pixel(model)}
    run = Recorder(out, inputs.limit, progress)
    if out["kind"] == "seed":  # a reference network: a few images, no speed section (see report_seed)
        measure_seed(run, model, data)
        return out
    if out["kind"] == "photo":
        measure_photo(run, model, data, compared_models(inputs.compare), peers, adapted_models(inputs.adapted, data))
    else:
        measure_gaussian(run, model, inputs, peers)
    run.speed(model, inputs.model_source, peers)
    return out


def _kind(model) -> str:
    """Which card a model gets: photo (it estimates its own noise), seed (the paper's reference network)
    or gaussian."""
    if has_estimator(model):
        return "photo"
    return "seed" if model.config.arch == "seed" else "gaussian"


def remeasure_speed(inputs: ReportInputs, weights_dir: Path, card_paths: list[Path], repo_id: str) -> dict:
    """Re-time the speed section alone (with any peers) into an existing results.json, and re-render
    the cards: the rest of the measurements stay as they are."""
    path = weights_dir / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the whole report first")
    results = json.loads(path.read_text())
    began = provenance()
    peers = [load_peer(spec) for spec in inputs.peers]
    Recorder(results, inputs.limit).speed(load_model(inputs.model_source), inputs.model_source, peers)
    results["speed"]["provenance"] = began  # re-timed later than the rest, by another command
    _write(results, weights_dir, card_paths, repo_id)
    return results


def render_card(results: dict, weights_dir: Path, repo_id: str, assets: str = "") -> str:
    """Markdown model card (with Hub front matter and model-index) from `measure()`'s results;
    `assets` prefixes the image links (the card may live beside the weights or elsewhere)."""
    if results.get("kind") == "seed":
        return render_seed_card(results, weights_dir, repo_id, assets)
    if results.get("kind") == "photo":
        return render_photo_card(results, weights_dir, repo_id, assets)
    return render_gaussian_card(results, weights_dir, repo_id, assets)


def write_report(inputs: ReportInputs, weights_dir: Path, card_paths: list[Path], repo_id: str) -> dict:
    """Measure, then write results.json into the weights folder and the card to each path
    (image links are made relative to each card's folder)."""
    began = provenance()
    results = measure(inputs)
    results["provenance"] = began
    _write(results, weights_dir, card_paths, repo_id)
    return results


def _write(results: dict, weights_dir: Path, card_paths: list[Path], repo_id: str) -> None:
    atomic_write_text(weights_dir / "results.json", json.dumps(results, indent=1) + "\n")
    write_cards(results, weights_dir, card_paths, repo_id)


def write_cards(results: dict, weights_dir: Path, card_paths: list[Path], repo_id: str) -> None:
    """Render `results` into each card path (image links relative to each card's folder)."""
    for path in card_paths:
        atomic_write_text(path, card_for(results, weights_dir, path, repo_id))


def card_for(results: dict, weights_dir: Path, path: Path, repo_id: str) -> str:
    """The card for `results` as written to `path` (image links relative to the card's folder)."""
    relative = os.path.relpath(weights_dir.resolve(), path.resolve().parent)
    assets = "" if relative == "." else relative.replace(os.sep, "/") + "/"
    return render_card(results, weights_dir, repo_id, assets)
