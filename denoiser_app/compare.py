"""What the Compare tab does: every loaded model beside the classical denoisers on one photo.

Every method gets the same noise level: the one the Denoise tab's model measures on the whole photo
(or the σ the person sets), so the comparison is of methods, not of noise estimates. It runs on a
fixed-size centre crop (Settings.compare_max_pixels) so that a Compare costs about one Denoise of a
small photo, and the original paper's network, ~10x slower than the others, only when asked for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from denoiser.io import to_float

from .imageops import colour_planes, psnr_ssim, split_alpha
from .outputs import save_png
from .service import DenoiserService, check_pair

log = logging.getLogger("denoiser.app")

# Plain names of denoiser.baselines.METHODS, short enough for a gallery caption, and their textbook
# names (the description gives both); a method missing here is listed by its key.
METHOD_NAMES = {
    "median": "median filter",
    "blur": "plain blur",
    "bilateral": "edge-aware blur",
    "nlmeans": "patch averaging",
    "tv": "flat-area smoothing",
    "wavelet": "wavelet smoothing",
    "svd": "low-rank smoothing",
}
TEXTBOOK_NAMES = {"blur": "Gaussian blur", "bilateral": "bilateral filter", "nlmeans": "non-local means",
                  "tv": "total variation", "wavelet": "wavelet shrinkage", "svd": "truncated SVD"}
SKIPPED = ("noisy",)  # the identity "method": the input tile already shows it
SLOW_MODELS = ("seed",)  # run only when asked: about 10x the time of everything else together
TOOK_OUT, LEFT = "took out", "noise left"  # the no-reference columns (σ, 0-255 scale)


def classical_methods() -> list[str]:
    from denoiser.baselines import METHODS

    return [m for m in METHODS if m not in SKIPPED]


def description(max_pixels: int) -> str:
    """The tab's introduction; it names every classical method the tab runs."""
    names = ", ".join(METHOD_NAMES.get(m, m) + (f" ({TEXTBOOK_NAMES[m]})" if m in TEXTBOOK_NAMES else "")
                      for m in classical_methods())
    side = int(max_pixels ** 0.5)
    return (f"This app's models beside the classical denoisers ({names}) on the centre of your photo (about "
            f"{side}x{side} pixels, shown at 100 %), each timed here as it runs. Every method gets the same noise "
            "level: the one the Denoise tab's model measures on the whole photo, at strength 1 (or the level you "
            "set below). Without a clean reference each is scored by how much it took out and how much fine "
            "noise it left; with one, by PSNR and SSIM.")


@dataclass
class Comparison:
    gallery: list[tuple[str, str]]  # (PNG path, short caption) of the compared crop, the input first
    columns: list[str]
    rows: list[list]
    note: str  # markdown: the level every method got, and what else to know
    level: float  # the noise level every method that takes one was given (0-255)


def compare(service: DenoiserService, image, reference=None, sigma=None, auto=True, progress=None,
            slow: bool = False) -> Comparison:
    """Run each model and each classical method on the centre crop; one that fails is reported, the
    others still run. Every method that takes a noise level gets the same: `sigma` when given (not
    auto), else the Denoise tab's model's estimate on the whole photo (the white-noise estimate when
    no loaded model measures noise). slow: also run SLOW_MODELS."""
    models = service.models
    noisy, ref, level, notes = _centre_and_level(service, image, reference, sigma, auto)
    planes, alpha = split_alpha(to_float(noisy))
    planes = colour_planes(planes)

    names = [n for n in models.names() if slow or n not in SLOW_MODELS]
    runs = [(models.label(name), name) for name in names] + [(METHOD_NAMES.get(m, m), m) for m in classical_methods()]
    folder = service.outputs.fresh()
    results, failed = _run_methods(models, runs, noisy, planes, level, progress)
    gallery, columns, rows = _scored(folder, noisy, ref, results)
    notes += _closing_notes(models, names, level, failed, alpha is not None, ref is not None)
    return Comparison(gallery, columns, rows, " ".join(notes), level)


def _centre_and_level(service: DenoiserService, image, reference, sigma, auto) -> tuple[
        np.ndarray, np.ndarray | None, float, list[str]]:
    """(the photo's centre crop, the reference's same crop or None, the level every method gets (0-255),
    the notes so far): the level is measured on the whole photo, before the crop."""
    from denoiser.inference import check_sigma

    noisy = service.read_photo(image, min_side=7)
    ref = service.read(reference, "a reference") if reference else None
    if ref is not None:
        check_pair(noisy, ref)
    given = not auto and sigma is not None
    level, how = _level(service, image, noisy, check_sigma(sigma) if given else None)

    noisy, box = centre(noisy, int(service.settings.compare_max_pixels ** 0.5))
    notes = [how]
    if box is not None:
        left, top, w, h = box
        ref = None if ref is None else ref[top : top + h, left : left + w]
        notes.append(f"This compares the centre {w}x{h} of your photo; the Denoise tab works on all of it.")
    return noisy, ref, level, notes


def _run_methods(models, runs: list[tuple[str, str]], noisy: np.ndarray, planes: np.ndarray, level: float,
                 progress=None) -> tuple[list[tuple[str, str, np.ndarray, float]], list[str]]:
    """Each (caption, key) of `runs` in turn, timed: models on the crop, classical methods on its colour
    planes. Returns ((caption, key, output, seconds) of those that ran, a sentence for each that failed)."""
    from denoiser.baselines import classical_denoise

    results, failed = [], []
    for i, (caption, key) in enumerate(runs, 1):
        if progress is not None:
            progress(i - 1, len(runs), caption)
        start = time.perf_counter()
        try:
            if key in models.models:
                out = models.run(key, noisy, None if models.kind(key) == "blind" else level)
            else:
                out = classical_denoise(planes, key, level)
        except Exception as err:  # noqa: BLE001 - one failing method must not sink the others
            log.warning("compare: %s failed: %s", key, err)
            failed.append(f"{caption} failed ({type(err).__name__}: {err})")
            continue
        results.append((caption, key, out, time.perf_counter() - start))
    return results, failed


def _scored(folder, noisy: np.ndarray, ref: np.ndarray | None, results: list) -> tuple[
        list[tuple[str, str]], list[str], list[list]]:
    """(gallery, columns, rows): the input and each result saved as a PNG in `folder`, and scored against
    the reference when there is one, else by what it took out and the noise it left."""
    from denoiser.inference import image_sigma

    gallery, rows = [], []
    for i, (caption, key, out, seconds) in enumerate([("your photo", "input", noisy, None), *results]):
        gallery.append((save_png(out, folder / f"{i:02d}-{key}.png"), caption))
        if ref is not None:
            rows.append([caption, *psnr_ssim(ref, out), _change(noisy, out), seconds])
        else:
            rows.append([caption, _change(noisy, out), image_sigma(out), seconds])

    columns = ["method", "PSNR (dB)", "SSIM", TOOK_OUT, "seconds"] if ref is not None else ["method", TOOK_OUT, LEFT, "seconds"]
    rows = [[_round(v, c) for v, c in zip(row, columns)] for row in rows]
    rows[0][columns.index(TOOK_OUT)] = ""  # the input took out nothing
    return gallery, columns, rows


def _closing_notes(models, names: list[str], level: float, failed: list[str], has_alpha: bool,
                   has_ref: bool) -> list[str]:
    """The notes after the level and the crop: blind models, the slow ones left out, failures, alpha, and
    what the no-reference columns mean."""
    notes = [_kinds_note(models, names, level)]
    skipped = [models.label(n) for n in models.names() if n not in names]
    if skipped:
        notes.append(f"The {' and '.join(skipped)} is left out unless you tick it above: it takes about ten times "
                     "as long as all the others together.")
    if failed:
        notes.append("; ".join(failed) + ".")
    if has_alpha:
        notes.append("Transparency (alpha) is ignored by the classical methods and the scores.")
    if not has_ref:
        notes.append(f"**{TOOK_OUT}**: how much each method changed the photo (σ of the change, 0–255 scale); near "
                     f"the level {level:.1f} it took out the noise, well above that it took detail too. **{LEFT}**: "
                     "the fine grain still measurable in its result (wavelet estimate); low is clean, but a blur "
                     "scores low too, so look at the pictures.")
    return notes


def centre(array: np.ndarray, side: int) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """The centre side x side window (smaller where the image is): the same cost whatever the photo's
    size or shape. Returns (a view, (left, top, width, height) or None when the image already fits)."""
    height, width = array.shape[:2]
    h, w = min(height, side), min(width, side)
    if (h, w) == (height, width):
        return array, None
    top, left = (height - h) // 2, (width - w) // 2
    return array[top : top + h, left : left + w], (left, top, w, h)


def _level(service: DenoiserService, path, noisy: np.ndarray, given: float | None) -> tuple[float, str]:
    """(the level every method gets, a sentence saying which it is)."""
    from denoiser.inference import image_sigma

    if given is not None:
        return given, f"Every method was given the noise level you set: **σ = {given:.1f}** (0–255 scale)."
    models = service.models
    name = models.photo_default
    if models.kind(name) == "estimator":
        found = service.estimate(path, name, noisy)  # the Denoise tab's estimate of this upload: cached, shared
        return found.sigma, (f"Every method was given the noise level the {models.label(name)} model measures on "
                             f"the whole photo, as on the Denoise tab at strength 1: **σ = {found.sigma:.1f}** "
                             "(0–255 scale).")
    level = image_sigma(noisy)
    return level, (f"Every method was given the noise level estimated from the whole photo (white-noise "
                   f"estimate): **σ = {level:.1f}** (0–255 scale).")


def _kinds_note(models, names: list[str], level: float) -> str:
    blind = [models.label(n) for n in names if models.kind(n) == "blind"]
    return f"The {' and '.join(blind)} model{'s are' if len(blind) > 1 else ' is'} blind: it takes no level." if blind else ""


def _change(noisy: np.ndarray, out: np.ndarray) -> float:
    """σ of the difference (0-255 scale, alpha aside): how much a method took out."""
    a, b = (colour_planes(split_alpha(to_float(x))[0]) for x in (noisy, out))
    return float(np.std(a - b) * 255)


def _round(value, column: str):
    digits = {"PSNR (dB)": 2, "SSIM": 3, TOOK_OUT: 1, LEFT: 1, "seconds": 2}.get(column)
    if digits is None or value is None:
        return "" if value is None else value
    return round(float(value), digits) if np.isfinite(value) else "identical"
