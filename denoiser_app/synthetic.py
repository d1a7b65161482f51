"""What the "Add noise" tab does: seeded synthetic noise on a clean image, then denoising."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from denoiser.noise import make_noisy

from .errors import fail
from .imageops import colour_planes, describe, psnr_ssim, size_text
from .outputs import save_png
from .service import DenoiserService

# Clean images bundled with scikit-image (public domain; no network needed).
EXAMPLE_IMAGES = ("astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "moon", "brick")

# (label, denoiser.noise.make_noise kind, its parameters); the UI has one slider per parameter.
NOISE_KINDS = (
    ("Gaussian (even grain)", "gaussian", ("sigma",)),
    ("Camera sensor (raw)", "raw", ("shot", "read")),
    ("Poisson (photon counting)", "poisson", ("peak",)),
    ("Salt and pepper", "salt-pepper", ("amount",)),
    ("Signal-dependent (NLF)", "nlf", ("beta1", "beta2")),
    ("Missing pixels", "mask", ("fraction",)),
)
NOISE_PARAMS = {kind: params for _, kind, params in NOISE_KINDS}


@functools.lru_cache(maxsize=None)
def example_clean(name: str) -> np.ndarray:
    """A clean image from scikit-image's bundled data (read-only)."""
    import skimage.data

    if name not in EXAMPLE_IMAGES:
        raise ValueError(f"unknown example image {name!r}; expected one of {EXAMPLE_IMAGES}")
    array = np.ascontiguousarray(getattr(skimage.data, name)())
    array.setflags(write=False)
    return array


@dataclass
class SyntheticResult:
    clean: str
    noisy: str
    denoised: str
    rows: list[list]  # (what, PSNR dB, SSIM) against the clean image
    status: str


def synthetic(service: DenoiserService, example: str | None, clean_path: str | None, kind: str, params: dict,
              seed, model: str | None = None, strength=1.0, progress=None) -> SyntheticResult:
    """Add `kind` noise with `params` (extra keys ignored) and `seed`, denoise, score against the clean
    image. A model with an estimator measures the noise itself; a σ model gets the true σ of
    Gaussian noise, else the white-noise estimate; a blind model gets nothing."""
    from denoiser.inference import check_strength, image_sigma

    models = service.models
    name = models.resolve(model, models.synthetic_default)
    model_kind = models.kind(name)
    strength = 1.0 if model_kind == "blind" else check_strength(float(strength))
    if clean_path:
        clean = service.read(clean_path, "a clean image")
        source = f"your image ({describe(clean)})"
    else:
        example = example or EXAMPLE_IMAGES[0]
        clean, source = np.asarray(example_clean(example)), f"scikit-image `{example}`"
    clean = colour_planes(clean)  # noise and scores on the colour planes
    if min(clean.shape[:2]) < 7:
        raise fail(f"The image is too small ({size_text(clean)}); it needs at least 7x7 pixels.")
    if kind not in NOISE_PARAMS:
        raise fail(f"Unknown noise kind {kind!r}; choose one of {', '.join(NOISE_PARAMS)}.")
    if seed is None or not float(seed).is_integer():
        raise fail("The seed must be a whole number.")
    values = {p: float(params[p]) for p in NOISE_PARAMS[kind]}
    if kind == "raw" and clean.ndim != 3:
        raise fail("Camera sensor noise needs a colour image; pick another image or noise.")
    noisy = make_noisy(clean, kind, values, int(seed))

    if model_kind == "estimator":
        sigma, how = None, "it measured the noise itself"
    elif model_kind == "blind":
        sigma, how = None, "a blind model: no σ"
    elif kind == "gaussian":
        sigma, how = values["sigma"], f"σ = {values['sigma']:.1f}, the true value"
    else:
        sigma = image_sigma(noisy)
        how = f"σ = {sigma:.1f}, estimated from the noisy image"
    start = time.perf_counter()
    denoised = models.run(name, noisy, sigma, strength, progress)
    seconds = time.perf_counter() - start

    folder = service.outputs.fresh()
    paths = [save_png(a, folder / f"{n}.png") for n, a in (("clean", clean), ("noisy", noisy), ("denoised", denoised))]
    (pn, sn), (pd, sd) = psnr_ssim(clean, noisy), psnr_ssim(clean, denoised)
    rows = [["noisy", round(pn, 2), round(sn, 4)], ["denoised", round(pd, 2), round(sd, 4)],
            ["gain", round(pd - pn, 2), round(sd - sn, 4)]]
    text = ", ".join(f"{k} = {v:g}" for k, v in values.items())
    at = "" if model_kind == "blind" else f" at strength {strength:.2f}"
    status = (f"{kind} noise ({text}, seed {int(seed)}) on {source}; denoised in {seconds:.2f} s by the "
              f"{models.label(name)} model{at} ({how}).")
    return SyntheticResult(*paths, rows, status)
