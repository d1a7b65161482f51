"""What the Denoise tab's controls and the /denoise API do, as plain functions.

Nothing here knows gradio but its error type: inputs are file paths and numbers, outputs are file
paths, numbers and text, so the tests call these directly. A user's mistake raises gr.Error
(see errors.fail); the UI shows it in one place and the API returns it to the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from denoiser.imageops import describe, psnr_ssim, residual_map, size_text, split_alpha
from denoiser.io import ImageReadError, read_image, write_image

from .errors import fail
from .models import Models
from .outputs import OutputDirs, file_stem, result_name, save_png, unique_png
from .settings import Settings

BROWSER_FORMATS = {"PNG", "JPEG", "GIF", "WEBP", "BMP"}  # others (HEIC, TIFF) get a PNG copy to show
MIN_SIDE = 3  # the smallest image the network takes


@dataclass(frozen=True)
class Upload:
    """A checked upload: the file to show and denoise, and what to say about it."""

    path: str  # the upload itself, or a lossless PNG copy when a browser cannot show its format
    converted: bool
    note: str  # markdown: the photo and the noise the model expects
    sigma: float | None  # the estimated noise level (0-255), None for a blind model


@dataclass
class PhotoResult:
    path: str  # the full-resolution lossless PNG, named after the photo, model and strength
    model: str
    label: str
    strength: float
    sigma: float | None  # the noise level the model assumed at strength 1 (0-255); None: blind
    sigma_source: str  # "given", "estimated" (white-noise estimate), "learned" (the model's map), "blind"
    seconds: float
    noisy: np.ndarray
    denoised: np.ndarray
    reference: np.ndarray | None
    estimate: str = ""  # the learned estimate in words ("σ ≈ 12.3 (from 8 in clean areas to 20 …)")
    notes: list[str] = field(default_factory=list)  # what was ignored, and why

    @property
    def metrics(self) -> dict:
        """The API's metrics: PSNR / SSIM (None without a reference) and how the result was made."""
        m = dict.fromkeys(("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"))
        if self.reference is not None:
            m["psnr_noisy"], m["ssim_noisy"] = psnr_ssim(self.reference, self.noisy)
            m["psnr_denoised"], m["ssim_denoised"] = psnr_ssim(self.reference, self.denoised)
        m.update(sigma=self.sigma, seconds=self.seconds, model=self.model, strength=self.strength,
                 sigma_source=self.sigma_source, note=" ".join(self.notes) or None)
        return m

    def table(self) -> list[list] | None:
        """Rows (what, PSNR dB, SSIM) against the reference; None without one."""
        if self.reference is None:
            return None
        m = self.metrics

        def r(value, digits):
            return round(value, digits) if np.isfinite(value) else "identical"

        pn, sn, pd, sd = (m[k] for k in ("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"))
        return [["your photo", r(pn, 2), r(sn, 4)], ["denoised", r(pd, 2), r(sd, 4)],
                ["gain", r(pd - pn, 2), r(sd - sn, 4)]]

    def status(self) -> str:
        """The summary under the result, in plain words (markdown)."""
        strength = "" if self.sigma_source == "blind" else f" at strength {self.strength:.2f}"
        if self.sigma_source == "blind":
            noise = "It finds the noise level itself."
        elif self.sigma_source == "learned":
            noise = f"Noise it measured: {self.estimate}."
        else:
            noise = f"Noise level: σ = {self.sigma:.1f}, {'set by you' if self.sigma_source == 'given' else 'estimated from the photo'}."
        depth = "16" if self.denoised.dtype == np.uint16 else "8"
        text = (f"Denoised in {self.seconds:.2f} s with the {self.label} model{strength}. {noise} "
                f"The download, {Path(self.path).name}, is the full {size_text(self.denoised)} photo as a lossless "
                f"{depth}-bit PNG.")
        if self.reference is not None:
            m = self.metrics
            text += f" Against your reference: {m['psnr_denoised'] - m['psnr_noisy']:+.2f} dB PSNR."
        return " ".join([text, *self.notes])


class DenoiserService:
    """The Denoise tab and the API, bound to the loaded models, the settings and the output folders."""

    def __init__(self, models: Models, settings: Settings, outputs: OutputDirs | None = None) -> None:
        self.models, self.settings = models, settings
        self.outputs = outputs or OutputDirs(settings.output_ttl, settings.prune_interval)

    # -- reading --------------------------------------------------------------------------

    def read(self, path: str | None, what: str = "a photo") -> np.ndarray:
        return load_image(path, what, self.settings.max_pixels)

    def read_photo(self, path: str | None, min_side: int = MIN_SIDE) -> np.ndarray:
        array = self.read(path, "a photo")
        if min(array.shape[:2]) < min_side:
            raise fail(f"The image is too small ({size_text(array)}); it needs at least {min_side}x{min_side} pixels.")
        return array

    def inspect(self, path: str | None, model: str | None = None) -> Upload:
        """On upload: check the photo, estimate its noise with the chosen model, and make a PNG copy
        when the browser cannot show the file (HEIC, TIFF). Raises gr.Error for a bad file."""
        array = self.read_photo(path)
        name = self.models.resolve(model)
        shown, converted = str(path), not _browser_can_show(path)
        if converted:  # lossless: same pixels, bit depth and alpha; the original's name is kept
            shown = str(self.outputs.fresh() / f"{file_stem(path)}.png")
            write_image(shown, array)
            unique_png(shown)
        estimate = self.models.estimate(name, array)
        if estimate is None:
            noise = "This model finds the noise level by itself."
        else:
            noise = f"Estimated noise: {estimate.describe()}."
        return Upload(shown, converted, f"{describe(array)} photo. {noise}", None if estimate is None else estimate.sigma)

    def check_reference(self, reference: str | None, photo: str | None = None) -> str:
        """On upload of a clean reference: readable, and matching the photo in size and colour layout."""
        ref = self.read(reference, "a reference")
        if photo:
            check_pair(self.read_photo(photo), ref)
        return f"Reference: {describe(ref)}. The result will be scored against it (PSNR / SSIM)."

    # -- denoising ------------------------------------------------------------------------

    def denoise(self, image: str | None, reference: str | None = None, sigma=None, model: str | None = None,
                strength=1.0, progress: Callable[[int, int], None] | None = None) -> PhotoResult:
        """Read, denoise at full resolution, write the download. sigma None: the model's own estimate
        (learned map or white-noise estimate). A blind model takes neither sigma nor strength: a
        given one is validated, ignored and named in the result's notes."""
        from denoiser.inference import check_sigma, check_strength, image_sigma

        name = self.models.resolve(model)
        kind = self.models.kind(name)
        strength = check_strength(1.0 if strength is None else _number(strength, "strength"))
        sigma = None if sigma is None else check_sigma(sigma)
        noisy = self.read_photo(image)
        ref = self.read(reference, "a reference") if reference else None
        if ref is not None:
            check_pair(noisy, ref)

        notes, estimate, source = [], "", "given"
        if kind == "blind":
            if sigma is not None:
                notes.append(f"The σ = {sigma:g} you gave was ignored: this model is blind (it takes no noise level).")
            if strength != 1:
                notes.append(f"The strength {strength:g} you gave was ignored: this model is blind (it has none).")
            sigma, strength, source = None, 1.0, "blind"
        elif sigma is None and kind == "estimator":
            found = self.models.estimate(name, noisy)
            sigma, estimate, source = found.sigma, found.describe(), "learned"
        elif sigma is None:
            sigma, source = image_sigma(noisy), "estimated"
        start = time.perf_counter()
        # the learned level is what denoise() would estimate again: pass it on instead of measuring twice
        denoised = self.models.run(name, noisy, None if source == "blind" else sigma, strength, progress)
        seconds = time.perf_counter() - start

        path = self.outputs.fresh() / result_name(image, name, strength, sigma if source == "given" else None)
        write_image(path, denoised)  # lossless, same bit depth and channels as the input
        unique_png(path)
        return PhotoResult(str(path), name, self.models.label(name), strength, sigma, source, seconds,
                           noisy, denoised, ref, estimate, notes)

    def views(self, result: PhotoResult) -> tuple[tuple[str, str], str, float]:
        """Screen versions of a result: ((before, after) 8-bit PNGs, residual map PNG, its gain)."""
        folder = Path(result.path).parent
        before = save_png(result.noisy, folder / "before.png")
        after = save_png(result.denoised, folder / "after.png")
        level = (result.sigma or 0) * result.strength
        if result.sigma is None:
            from denoiser.inference import image_sigma

            level = image_sigma(result.noisy)
        residual, gain = residual_map(result.noisy, result.denoised, level)
        return (before, after), save_png(residual, folder / "noise-removed.png"), gain

    def api(self, image, reference=None, sigma=None, model=None, strength=1.0, progress=None) -> tuple[str, dict]:
        """/denoise and /denoise_with_model: (PNG path, metrics with None for non-finite scores)."""
        result = self.denoise(image, reference or None, sigma, model, strength, progress)
        metrics = result.metrics
        for key in ("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"):
            if metrics[key] is not None and not np.isfinite(metrics[key]):
                metrics[key] = None  # JSON has no inf: a pixel-identical image
        return result.path, metrics


def load_image(path: str | None, what: str = "a photo", limit: int | None = None) -> np.ndarray:
    """denoiser.io.read_image of an upload (limit: pixels, None: $DENOISER_MAX_PIXELS); a problem is a
    gr.Error that names the file, not its server path."""
    if path is None or str(path) == "":
        raise fail(f"Please upload {what}.")
    path = Path(path)
    try:
        return read_image(path, limit=limit)
    except ImageReadError as err:
        raise fail(str(err).replace(str(path), path.name)) from None


def check_pair(image: np.ndarray, reference: np.ndarray) -> None:
    """gr.Error unless the reference matches the image in size and colour layout (alpha aside)."""
    if image.shape[:2] != reference.shape[:2]:
        raise fail(f"The reference is {size_text(reference)} pixels but the photo is {size_text(image)}; "
                   "they must be the same size (width x height).")
    if split_alpha(image)[0].shape != split_alpha(reference)[0].shape:
        raise fail(f"The reference ({describe(reference)}) and the photo ({describe(image)}) differ in colour "
                   "channels; use a reference with the same colour layout (both gray or both colour).")


def _number(value, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise fail(f"The {what} must be a number, got {value!r}.") from None


def _browser_can_show(path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format in BROWSER_FORMATS
    except Exception:  # noqa: BLE001 - read_image has already accepted it; show a copy instead
        return False
