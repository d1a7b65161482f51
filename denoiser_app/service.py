"""What the Denoise tab's controls and the /denoise API do, as plain functions.

Nothing here knows gradio but its error type: inputs are file paths and numbers, outputs are file
paths, numbers and text, so the tests call these directly. A user's mistake raises gr.Error
(see errors.fail); the UI shows it in one place and the API returns it to the caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from denoiser import __version__
from denoiser.io import OUTPUT_FORMATS, choose_format, format_of, write_image
from denoiser.jpeg_quality import stored_quality
from denoiser.metadata import Metadata

from .adapting import adapt_for_photo, check_adaptable
from .cache import Recent, file_key
from .errors import fail
from .imageops import describe, residual_map, size_text
from .models import Models
from .outputs import OutputDirs, file_stem, result_name, save_preview, unique_file, unique_png
from .photo_result import PhotoResult, expert, preview_step
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
            check_adaptable(self.models, self.settings, name)
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
            with _timed(timings, "adapting"):
                adapted, sigma, estimate, (done, total) = adapt_for_photo(
                    self.models, self.settings, name, noisy, source, sigma, estimate, stage, adapt_progress,
                    stored_quality(image))
            notes.append(f"Before denoising, the model learned this photo's own noise for "
                         f"{timings['adapting'] / 60:.1f} min ({done} of {total} training steps).")
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
            step = preview_step(result.noisy)  # every step-th pixel: the grain stays grain, not a blur
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


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start


def _browser_can_show(path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format in BROWSER_FORMATS
    except Exception:  # noqa: BLE001 - read_image has already accepted it; show a copy instead
        return False
