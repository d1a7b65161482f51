"""What the Denoise tab's controls and the /denoise API do, as plain functions.

Nothing here knows gradio but its error type: inputs are file paths and numbers, outputs are file
paths, numbers and text, so the tests call these directly. A user's mistake raises gr.Error
(see errors.fail); the UI shows it in one place and the API returns it to the caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from denoiser import __version__
from denoiser.io import OUTPUT_FORMATS, choose_format, format_of, to_float, write_image
from denoiser.metadata import Metadata

from .cache import Recent, file_key
from .errors import fail
from .imageops import describe, psnr_ssim, residual_map, size_text, split_alpha
from .models import Models
from .outputs import OutputDirs, file_stem, result_name, save_preview, unique_file, unique_png
from .settings import Settings
from .uploads import check_pair, load_image_with_metadata, number

BROWSER_FORMATS = {"PNG", "JPEG", "GIF", "WEBP", "BMP"}  # others (HEIC, TIFF) get a PNG copy to show
MIN_SIDE = 3  # the smallest image the network takes
SOFTWARE = f"denoiser {__version__} (web app)"
# The page's words for how noisy a photo is (denoiser.inference.noise_word), as a photographer sees it.
NOISE_MEANING = {
    "light": "faint grain, mostly seen in flat areas such as sky",
    "moderate": "grain you see at full size, typical of indoor and evening phone photos",
    "heavy": "strong grain and colour speckle, as in night shots",
}
SHOWN_PNG_LEVEL = 1  # zlib level of the PNG copy a browser shows for HEIC/TIFF uploads (never downloaded): fast
SSIM_LINE = ("SSIM says how alike two pictures look in structure, from 0 to 1 (1: identical); PSNR, in dB, how "
             "close their pixels are (higher is closer). SSIM here uses a Gaussian window (σ 1.5, as in Wang et al. "
             "2004: scikit-image's `structural_similarity` with `gaussian_weights=True, sigma=1.5, "
             "use_sample_covariance=False`), averaged over the colour channels; scikit-image's default, a uniform "
             "7×7 window, gives different numbers.")
# The download's formats as offered on the page: (label, denoiser.io format or "same").
SAVE_AS = (
    ("PNG: lossless, full quality", "png"),
    ("JPEG: much smaller, for sharing", "jpeg"),
    ("HEIC: smallest, for Apple devices", "heic"),
    ("WebP: small, for the web", "webp"),
    ("TIFF: lossless, for editing", "tiff"),
    ("The same as my photo", "same"),
)
_FORMAT_WORDS = {"png": "a lossless {depth}-bit PNG", "tiff": "a lossless {depth}-bit TIFF", "jpeg": "an 8-bit JPEG",
                 "heic": "an 8-bit HEIC", "webp": "an 8-bit WebP"}


@dataclass(frozen=True)
class Upload:
    """A checked upload: the file to show and denoise, and what to say about it."""

    path: str  # the upload itself, or a lossless PNG copy when a browser cannot show its format
    converted: bool
    note: str  # markdown: the photo and the noise the model expects
    sigma: float | None  # the estimated noise level (0-255), None for a blind model


@dataclass(frozen=True)
class Views:
    """What the page shows of a result: screen-sized before/after views and the noise removed."""

    before: str
    after: str
    residual: str
    gain: float  # how much the residual view amplifies the noise removed


@dataclass
class PhotoResult:
    path: str  # the full-resolution download, named after the photo, model and strength
    model: str
    label: str
    strength: float
    sigma: float | None  # the noise level the model assumed at strength 1 (0-255); None: blind
    sigma_source: str  # "given", "estimated" (white-noise estimate), "learned" (the model's map), "blind"
    seconds: float  # the model's own time
    noisy: np.ndarray
    denoised: np.ndarray
    reference: np.ndarray | None
    estimate: str = ""  # the learned estimate's numbers ("σ ≈ 12.3 (learned estimate; 4.5–21.8 across the image)")
    notes: list[str] = field(default_factory=list)  # what was ignored, and why
    source: str | None = None  # the upload's path: its name and format name the download
    metadata: Metadata = field(default_factory=Metadata)  # the photo's colour profile and EXIF
    save_as: str = "png"  # the download's format (denoiser.io.OUTPUT_FORMATS)
    stripped: bool = False  # the download leaves out the EXIF
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step of this request, in order

    @property
    def waited(self) -> float:
        """Seconds of this request from start to its last file: the time the person waited."""
        return sum(self.timings.values())

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
        from denoiser.inference import noise_word

        strength = "" if self.sigma_source == "blind" else f" at strength {self.strength:.2f}"
        if self.sigma_source == "blind":
            noise = "It finds the noise level itself."
        elif self.sigma_source == "learned":
            noise = f"Measured noise: {self.estimate}, on the 0–255 scale."
        else:
            how = "set by you" if self.sigma_source == "given" else "estimated from the photo"
            noise = f"Noise level: σ = {self.sigma:.1f} ({how}), on the 0–255 scale."
        took = f"Done in {self.waited:.1f} s" if self.timings else f"Denoised in {self.seconds:.1f} s"
        removed = self.removed
        plain = f"it took out {noise_word(removed)} noise" if removed >= 0.5 else "it changed almost nothing"
        if self.sigma_source != "blind":
            plain = f"Your photo had **{noise_word(self.sigma)}** noise; {plain}"
        text = (f"{took} with the {self.label} model{strength}. {plain[0].upper()}{plain[1:]}. The download, "
                f"{Path(self.path).name}, is the full {size_text(self.denoised)} photo as {self.format_words()}.")
        if self.reference is not None:
            m = self.metrics
            text += (f" Against your reference: PSNR {m['psnr_denoised'] - m['psnr_noisy']:+.2f} dB, SSIM "
                     f"{m['ssim_noisy']:.2f} → {m['ssim_denoised']:.2f} (1: identical).")
        details = [noise, f"The change it made: σ ≈ {removed:.1f} on the 0–255 scale (the standard deviation of "
                          "the difference from your photo)."]
        if self.timings:
            details.append(f"{self.seconds:.1f} s of the time was the network.")
        return " ".join([text, *self.notes]) + expert(" ".join(details))

    def headline(self) -> str:
        """The one line beside the Denoise button once a run has finished."""
        strength = "" if self.sigma_source == "blind" else f" at strength {self.strength:.2f}"
        return f"✓ Done in {self.waited:.1f} s{strength}."

    def stale(self, strength) -> str | None:
        """What to say when the Strength slider no longer matches the result shown; None when it does
        (or the model takes no strength)."""
        if self.sigma_source == "blind" or strength is None or round(float(strength), 2) == round(self.strength, 2):
            return None
        return (f"⟳ The result shown is for strength {self.strength:.2f}: press Denoise to apply "
                f"{float(strength):.2f}.")

    @functools.cached_property
    def removed(self) -> float:
        """The standard deviation of the change the model made (0-255 scale, alpha aside): how much it
        took out. Every step-th pixel of a large photo, which measures the same to a few hundredths."""
        step = max(1, _preview_step(self.noisy) // 2)
        planes = [split_alpha(to_float(a[::step, ::step]))[0] for a in (self.noisy, self.denoised)]
        return float(np.std(planes[0] - planes[1]) * 255)

    def format_words(self) -> str:
        """'a lossless 16-bit PNG with its colour profile and camera details (EXIF)', and the like."""
        depth = "16" if self.denoised.dtype == np.uint16 else "8"
        words = _FORMAT_WORDS[self.save_as].format(depth=depth)
        if self.save_as in ("jpeg", "heic", "webp"):
            words += " (quality 95)"
        kept = ["its colour profile"] if self.metadata.icc_profile else []
        if self.metadata.exif and not self.stripped:
            kept.append("camera details (EXIF)")
        text = f"{words} with {' and '.join(kept)}" if kept else words
        if self.stripped and self.metadata.exif:
            text += "; camera details and location removed"
        return text


class DenoiserService:
    """The Denoise tab and the API, bound to the loaded models, the settings and the output folders."""

    def __init__(self, models: Models, settings: Settings, outputs: OutputDirs | None = None) -> None:
        self.models, self.settings = models, settings
        self.outputs = outputs or OutputDirs(settings.output_ttl, settings.prune_interval)
        self._files = Recent(items=4)  # decoded uploads: (array, metadata)
        self._estimates = Recent(items=16)  # noise estimates by (upload, model), without their maps

    # -- reading --------------------------------------------------------------------------

    def read(self, path: str | None, what: str = "a photo") -> np.ndarray:
        return self.read_with_metadata(path, what)[0]

    def read_with_metadata(self, path: str | None, what: str = "a photo") -> tuple[np.ndarray, Metadata]:
        """The decoded upload (read-only) and its metadata, decoded once however often it is asked for."""
        limit = self.settings.max_pixels
        key = file_key(path) if path else None  # None (no such file): not cached, the reader explains
        return self._files.get(key and (key, limit), lambda: load_image_with_metadata(path, what, limit))

    def read_photo(self, path: str | None, min_side: int = MIN_SIDE) -> np.ndarray:
        return self._check_size(self.read(path, "a photo"), min_side)

    def estimate(self, path: str | None, name: str, array: np.ndarray):
        """models.estimate for an upload, measured once per upload and model (None for a blind model)."""
        key = file_key(path) if path else None

        def measure():
            found = self.models.estimate(name, array)
            return None if found is None else dataclasses.replace(found, map=None)  # the map: 4 bytes a pixel

        return self._estimates.get(key and (key, name), measure)

    @staticmethod
    def _check_size(array: np.ndarray, min_side: int) -> np.ndarray:
        if min(array.shape[:2]) < min_side:
            raise fail(f"The image is too small ({size_text(array)}); it needs at least {min_side}x{min_side} pixels.")
        return array

    def inspect(self, path: str | None, model: str | None = None) -> Upload:
        """On upload: check the photo, estimate its noise with the chosen model, and make a PNG copy
        when the browser cannot show the file (HEIC, TIFF). Raises gr.Error for a bad file."""
        array, metadata = self.read_with_metadata(path)
        self._check_size(array, MIN_SIDE)
        name = self.models.resolve(model)
        shown, converted = str(path), not _browser_can_show(path)
        if converted:  # lossless: same pixels, bit depth and alpha; the original's name is kept
            shown = str(self.outputs.fresh() / f"{file_stem(path)}.png")
            write_image(shown, array, compress_level=SHOWN_PNG_LEVEL)
            unique_png(shown)
        estimate = self.estimate(path, name, array)
        noise = "This model finds the noise level by itself." if estimate is None else noise_words(estimate)
        note = f"{describe(array)} photo. {noise}"
        if metadata.has_gps:
            note += (" It carries the place where it was taken (GPS, in its EXIF): tick “Remove camera details” "
                     "to leave that out of the download.")
        if estimate is not None:
            note += expert(f"Measured noise: {estimate.describe()}, on the 0–255 scale. At strength 1 the model "
                           "removes this level; the strength scales it.")
        return Upload(shown, converted, note, None if estimate is None else estimate.sigma)

    def check_reference(self, reference: str | None, photo: str | None = None) -> str:
        """On upload of a clean reference: readable, and matching the photo in size and colour layout."""
        ref = self.read(reference, "a reference")
        if photo:
            check_pair(self.read_photo(photo), ref)
        return f"Reference: {describe(ref)}. The result will be scored against it (PSNR / SSIM)."

    # -- denoising ------------------------------------------------------------------------

    def denoise(self, image: str | None, reference: str | None = None, sigma=None, model: str | None = None,
                strength=1.0, progress: Callable[[int, int], None] | None = None, save_as: str = "png",
                strip: bool = False, stage: Callable[[str], None] | None = None, adapt: bool = False,
                adapt_progress: Callable[[int, int], None] | None = None) -> PhotoResult:
        """Read, denoise at full resolution, write the download (save_as: a denoiser.io output
        format or "same"; strip: leave out the EXIF). sigma None: the model's own estimate
        (learned map or white-noise estimate). A blind model takes neither sigma nor strength: a
        given one is validated, ignored and named in the result's notes. result.timings says
        where the time went; stage(text), when given, hears each step as it starts (the page shows it
        beside the button: a 12 MP photo spends seconds reading and measuring before its first tile).
        adapt: first fine-tune the model to this photo's own noise (at most settings.adapt_minutes;
        adapt_progress(step, total) hears it), then denoise with the adapted copy."""
        from denoiser.inference import check_sigma, check_strength, image_sigma

        stage = stage or (lambda text: None)
        timings: dict[str, float] = {}
        name = self.models.resolve(model)
        kind = self.models.kind(name)
        if adapt:
            self.check_adaptable(name)
        strength = check_strength(1.0 if strength is None else number(strength, "strength"))
        sigma = None if sigma is None else check_sigma(sigma)
        stage("Reading the photo")
        with _timed(timings, "reading"):
            noisy, metadata = self.read_with_metadata(image)
            self._check_size(noisy, MIN_SIDE)
            ref = self.read(reference, "a reference") if reference else None
            if ref is not None:
                check_pair(noisy, ref)

        notes, estimate, source = [], "", "given"
        stage("Measuring the noise")
        with _timed(timings, "measuring the noise"):
            if kind == "blind":
                if sigma is not None:
                    notes.append(f"The σ = {sigma:g} you gave was ignored: this model is blind (it takes no noise level).")
                if strength != 1:
                    notes.append(f"The strength {strength:g} you gave was ignored: this model is blind (it has none).")
                sigma, strength, source = None, 1.0, "blind"
            elif sigma is None and kind == "estimator":
                found = self.estimate(image, name, noisy)
                sigma, estimate, source = found.sigma, found.describe(), "learned"
            elif sigma is None:
                sigma, source = image_sigma(noisy), "estimated"
        label = self.models.label(name)
        if adapt:
            sigma, estimate, adapted = self._adapt(name, noisy, source, sigma, estimate, timings, stage, adapt_progress,
                                                   notes)
            name, label = f"{name}-adapted", f"{label} (adapted to this photo)"
        stage("Denoising")
        with _timed(timings, "denoising"):
            # the learned level is what denoise() would estimate again: pass it on instead of measuring twice
            if adapt:
                from denoiser.inference import denoise

                denoised = denoise(noisy, adapted, sigma=sigma, strength=strength, progress=progress)
            else:
                denoised = self.models.run(name, noisy, None if source == "blind" else sigma, strength, progress)

        result = PhotoResult("", name, label, strength, sigma, source, timings["denoising"],
                             noisy, denoised, ref, estimate, notes, str(image), metadata, timings=timings)
        stage("Saving the full-size download")
        with _timed(timings, "saving"):
            self.save(result, save_as, strip)
        return result

    def check_adaptable(self, name: str) -> None:
        from .adapting import adaptable

        if self.settings.adapt_minutes <= 0:
            raise fail("Adapting to a photo is turned off on this server (DENOISER_ADAPT_MINUTES=0).")
        if not adaptable(self.models.models[name]):
            raise fail(f"The {self.models.label(name)} model cannot adapt to a photo: only the encoder-decoder "
                       "models that take a noise level can. Untick “Adapt to this photo” or choose another model.")

    def _adapt(self, name: str, noisy: np.ndarray, source: str, sigma, estimate: str, timings: dict[str, float],
               stage: Callable[[str], None], progress: Callable[[int, int], None] | None, notes: list[str]):
        """The model adapted to this photo's noise, and the level it then measures (a learned level is measured
        again with the adapted model; a given σ stays). What it did goes into `notes`."""
        from denoiser.inference import estimate_noise

        from .adapting import adapted_model

        steps = [0, 0]

        def heard(step: int, total: int) -> None:
            steps[:] = step, total
            if progress is not None:
                progress(step, total)

        stage(f"Learning this photo's noise (up to {self.settings.adapt_minutes:g} min)")
        with _timed(timings, "adapting"):
            try:
                adapted = adapted_model(self.models.models[name], noisy, self.settings.adapt_minutes, heard)
            except ValueError as err:  # e.g. a photo that is all texture: no plain area to measure the noise in
                raise fail(f"Could not learn this photo's noise: {err}. "
                           "Denoise it without “Adapt to this photo”.") from err
            if source == "learned":
                found = estimate_noise(noisy, adapted)
                sigma, estimate = found.sigma, found.describe()
        notes.append(f"Before denoising, the model learned this photo's own noise for {timings['adapting'] / 60:.1f} "
                     f"min ({steps[0]} of {steps[1]} training steps).")
        return sigma, estimate, adapted

    def save(self, result: PhotoResult, save_as: str = "png", strip: bool = False) -> str:
        """Write (or write again, in another format) the download of a result; returns its path.
        "same" is the upload's own format where we write it well, else PNG."""
        fmt = choose_format(save_as or "png", format_of(result.source or ""))
        name = result_name(result.source, result.model, result.strength,
                           result.sigma if result.sigma_source == "given" else None, OUTPUT_FORMATS[fmt])
        metadata = result.metadata.without_exif() if strip else result.metadata.with_software(SOFTWARE)
        path = self.outputs.fresh() / name
        write_image(path, result.denoised, metadata)  # the library's encoder settings: the CLI's bytes, the CLI's size
        result.path, result.save_as, result.stripped = unique_file(path), fmt, bool(strip)
        return result.path

    def views(self, result: PhotoResult) -> Views:
        """Screen versions of a result: before/after views at most PREVIEW_SIDE long (a 12 MP photo's
        full-size PNGs took seconds to encode and to send) and the noise removed, amplified."""
        with _timed(result.timings, "previews"):
            folder = Path(result.path).parent
            before = save_preview(result.noisy, folder / "before")
            after = save_preview(result.denoised, folder / "after")
            level = (result.sigma or 0) * result.strength
            if result.sigma is None:
                from denoiser.inference import image_sigma

                level = image_sigma(result.noisy)
            step = _preview_step(result.noisy)  # every step-th pixel: the grain stays grain, not a blur
            residual, gain = residual_map(result.noisy[::step, ::step], result.denoised[::step, ::step], level)
            return Views(before, after, save_preview(residual, folder / "noise-removed"), gain)

    def api(self, image, reference=None, sigma=None, model=None, strength=1.0, progress=None) -> tuple[str, dict]:
        """/denoise and /denoise_with_model: (PNG path, metrics with None for non-finite scores)."""
        result = self.denoise(image, reference or None, sigma, model, strength, progress)
        metrics = result.metrics
        for key in ("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"):
            if metrics[key] is not None and not np.isfinite(metrics[key]):
                metrics[key] = None  # JSON has no inf: a pixel-identical image
        return result.path, metrics


def noise_words(estimate) -> str:
    """'**Noise: moderate**: grain you see at full size, …': the word and what it looks like."""
    from denoiser.inference import noise_word

    word = noise_word(estimate.sigma)
    return f"**Noise: {word}**: {NOISE_MEANING[word]}."


def expert(text: str) -> str:
    """The figures behind the plain words, folded away under "Details" (HTML the Markdown keeps)."""
    return f"\n\n<details><summary>Details</summary>\n\n{html.escape(text, quote=False)}\n\n</details>"


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start


def _preview_step(array: np.ndarray) -> int:
    from .outputs import PREVIEW_SIDE

    return max(1, -(-max(array.shape[:2]) // PREVIEW_SIDE))


def _browser_can_show(path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format in BROWSER_FORMATS
    except Exception:  # noqa: BLE001 - read_image has already accepted it; show a copy instead
        return False
