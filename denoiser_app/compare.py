"""What the Compare tab does: every loaded model beside the classical denoisers on one photo."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from denoiser.imageops import center_crop, colour_planes, psnr_ssim, split_alpha
from denoiser.io import to_float

from .outputs import save_png
from .service import DenoiserService, check_pair

CROP = 160  # side of the 100 % crops: big enough to judge grain and detail, small enough to show side by side

log = logging.getLogger("denoiser.app")

# Plain names of denoiser.baselines.METHODS; a method missing here is listed by its key.
METHOD_NAMES = {
    "median": "median filter",
    "blur": "Gaussian blur",
    "bilateral": "bilateral filter",
    "nlmeans": "non-local means",
    "tv": "total variation",
    "wavelet": "wavelet shrinkage",
    "svd": "truncated SVD",
}
SKIPPED = ("noisy",)  # the identity "method": the input tile already shows it


def classical_methods() -> list[str]:
    from denoiser.baselines import METHODS

    return [m for m in METHODS if m not in SKIPPED]


def description(max_pixels: int) -> str:
    """The tab's introduction; it names every classical method the tab runs."""
    names = ", ".join(METHOD_NAMES.get(m, m) for m in classical_methods())
    return (f"This app's models beside the classical denoisers ({names}) on the same photo, each timed here as it "
            "runs. Without a clean reference each is scored by the noise it left (lower is cleaner, but a method "
            "that blurs detail away scores low too: look at the 100 % crops); with one, by PSNR and SSIM. Photos "
            f"larger than {max_pixels / 1e6:g} megapixels are compared on their centre.")


@dataclass
class Comparison:
    gallery: list[tuple[str, str]]  # (PNG path, short caption), the input first
    crops: list[tuple[str, str]]  # the same, a CROP x CROP window at 100 % where the most noise was removed
    columns: list[str]
    rows: list[list]
    note: str


def compare(service: DenoiserService, image, reference=None, sigma=None, auto=True, progress=None) -> Comparison:
    """Run each model and each classical method; one that fails is reported, the others still run.
    sigma None or auto: the classical methods and σ models use the white-noise estimate, an
    estimator model its own map; a given σ goes to every method (a blind model takes none)."""
    from denoiser.baselines import classical_denoise
    from denoiser.inference import check_sigma, image_sigma

    noisy = service.read_photo(image, min_side=7)
    ref = service.read(reference, "a reference") if reference else None
    if ref is not None:
        check_pair(noisy, ref)
    limit = service.settings.compare_max_pixels
    noisy, box = center_crop(noisy, limit)
    notes = []
    if box is not None:
        left, top, w, h = box
        ref = None if ref is None else ref[top : top + h, left : left + w]
        notes.append(f"The photo is larger than {limit / 1e6:g} MP, so this compares its centre {w}x{h} crop; "
                     "the Denoise tab works on the whole photo.")
    given = not auto and sigma is not None
    sigma = check_sigma(sigma) if given else image_sigma(noisy)
    planes, alpha = split_alpha(to_float(noisy))
    planes = colour_planes(planes)

    models = service.models
    runs = [(models.label(name), name) for name in models.names()] + [(METHOD_NAMES.get(m, m), m) for m in classical_methods()]
    folder = service.outputs.fresh()
    results, failed = [], []  # (caption, key, output, seconds)
    for i, (caption, key) in enumerate(runs, 1):
        if progress is not None:
            progress(i - 1, len(runs), caption)
        start = time.perf_counter()
        try:
            if key in models.models:
                kind = models.kind(key)
                out = models.run(key, noisy, sigma if kind == "sigma" or (given and kind != "blind") else None)
            else:
                out = classical_denoise(planes, key, sigma)
        except Exception as err:  # noqa: BLE001 - one failing method must not sink the others
            log.warning("compare: %s failed: %s", key, err)
            failed.append(f"{caption} failed ({type(err).__name__}: {err})")
            continue
        results.append((caption, key, out, time.perf_counter() - start))

    window = strongest_noise(noisy, results[0][2], CROP) if results else None
    shown = [("your photo", "input", noisy, None), *results]
    gallery, crops, rows = [], [], []
    for i, (caption, key, out, seconds) in enumerate(shown):
        gallery.append((save_png(out, folder / f"{i:02d}-{key}.png"), caption))
        if window is not None:
            top, left, size = window
            crops.append((save_png(out[top : top + size, left : left + size], folder / f"{i:02d}-{key}-crop.png"), caption))
        scores = psnr_ssim(ref, out) if ref is not None else ()
        rows.append([caption, *scores, image_sigma(out), seconds])

    noise = "noise left (σ)"
    columns = ["method", "PSNR (dB)", "SSIM", noise, "seconds"] if ref is not None else ["method", noise, "seconds"]
    rows = [[_round(v, c) for v, c in zip(row, columns)] for row in rows]
    notes.insert(0, _sigma_note(models, sigma, given))
    if failed:
        notes.append("; ".join(failed) + ".")
    if alpha is not None:
        notes.append("Transparency (alpha) is ignored by the classical methods and the scores.")
    return Comparison(gallery, crops, columns, rows, " ".join(notes))


def strongest_noise(noisy: np.ndarray, denoised: np.ndarray, size: int) -> tuple[int, int, int]:
    """(top, left, side) of the size x size window (smaller for a small image) where denoising
    removed the most: the mean squared difference, found with an integral image."""
    diff = colour_planes(to_float(noisy)) - colour_planes(to_float(denoised))
    energy = (diff.reshape(*diff.shape[:2], -1) ** 2).mean(axis=2)
    side = min(size, *energy.shape)
    total = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    windows = total[side:, side:] - total[:-side, side:] - total[side:, :-side] + total[:-side, :-side]
    top, left = np.unravel_index(np.argmax(windows), windows.shape)
    return int(top), int(left), side


def _sigma_note(models, sigma: float, given: bool) -> str:
    how = "set by you" if given else "estimated from the photo"
    parts = [f"The classical methods used σ = {sigma:.1f} ({how})"]
    for name in models.names():
        kind, label = models.kind(name), models.label(name)
        if kind == "blind":
            parts.append(f"the {label} model is blind (it takes no σ)")
        elif kind == "estimator" and not given:
            parts.append(f"the {label} model measured the noise itself")
        else:
            parts.append(f"the {label} model used the same σ")
    return "; ".join(parts) + "."


def _round(value, column: str):
    digits = {"PSNR (dB)": 2, "SSIM": 4, "noise left (σ)": 1, "seconds": 2}.get(column)
    if digits is None or value is None:
        return "" if value is None else value
    return round(float(value), digits) if np.isfinite(value) else "identical"
