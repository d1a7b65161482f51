"""A denoised photo as the Denoise tab and the API report it: the pixels, how they were made, and the words
the page shows about them (status, headline, scores)."""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from denoiser.io import to_float
from denoiser.metadata import Metadata

from .imageops import psnr_ssim, size_text, split_alpha

_FORMAT_WORDS = {"png": "a lossless {depth}-bit PNG", "tiff": "a lossless {depth}-bit TIFF", "jpeg": "an 8-bit JPEG",
                 "heic": "an 8-bit HEIC", "webp": "an 8-bit WebP"}


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
        step = max(1, preview_step(self.noisy) // 2)
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


def expert(text: str) -> str:
    """The figures behind the plain words, folded away under "Details" (HTML the Markdown keeps)."""
    return f"\n\n<details><summary>Details</summary>\n\n{html.escape(text, quote=False)}\n\n</details>"


def preview_step(array: np.ndarray) -> int:
    from .outputs import PREVIEW_SIDE

    return max(1, -(-max(array.shape[:2]) // PREVIEW_SIDE))
