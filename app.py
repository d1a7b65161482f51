"""Gradio web app for the photo denoiser (runs locally or as a Hugging Face Space).

    python app.py                       # http://127.0.0.1:7860

Tabs: "Denoise a photo" (upload, optional clean reference, strength = noise sigma), "Try
synthetic noise" (seeded noise on a clean image, then denoise) and "Compare" (the autoencoder
against the classical baselines). A named API endpoint serves programs:

    from gradio_client import Client, handle_file
    path, metrics = Client(url).predict(handle_file("noisy.png"), None, None, api_name="/denoise")

/denoise takes (image file, reference file or None, sigma on the 0-255 scale or None to
estimate it) and returns (path of the full-resolution denoised PNG, metrics dict with keys
psnr_noisy, ssim_noisy, psnr_denoised, ssim_denoised, sigma, seconds; the four metric values
are None without a reference, and PSNR is None for a pixel-identical image).

The model is loaded once, in build_demo(), with denoiser.load_model(): $DENOISER_MODEL names a
Hub repo id (optionally `owner/name@revision`) or a local weights folder; unset means the
shipped default weights. It runs on CUDA when available (ZeroGPU: the model call is wrapped in
spaces.GPU when the `spaces` package is importable).

Environment variables (read at import time into the module constants below):
    DENOISER_MODEL               model to load (see above)
    DENOISER_MAX_PIXELS          largest accepted image in pixels (MAX_PIXELS; default 50 MP)
    DENOISER_COMPARE_MAX_PIXELS  the Compare tab centre-crops larger images to this (default 1 MP)
    DENOISER_QUEUE_SIZE          requests waiting in the queue before new ones are refused (16)
    DENOISER_CONCURRENCY         requests processed at once (1, for a 2-vCPU Space)
    DENOISER_MAX_FILE_SIZE       upload size limit, e.g. "200mb" (gradio's max_file_size)
    DENOISER_OUTPUT_TTL          seconds result files are kept on disk (3600)
"""

from __future__ import annotations

import functools
import html
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np

from denoiser.io import ImageReadError, from_float, max_pixels, read_image, to_float, write_image

log = logging.getLogger("denoiser.app")


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


_CONFIG_ERROR: ValueError | None = None
try:
    MAX_PIXELS = max_pixels()  # DENOISER_MAX_PIXELS
    COMPARE_MAX_PIXELS = _env_int("DENOISER_COMPARE_MAX_PIXELS", 1_000_000)
    QUEUE_SIZE = _env_int("DENOISER_QUEUE_SIZE", 16)
    CONCURRENCY = _env_int("DENOISER_CONCURRENCY", 1)
    OUTPUT_TTL = _env_int("DENOISER_OUTPUT_TTL", 3600)
except ValueError as _err:  # reported by build_demo() / `python app.py` as a plain error
    _CONFIG_ERROR = _err
    MAX_PIXELS, COMPARE_MAX_PIXELS, QUEUE_SIZE, CONCURRENCY, OUTPUT_TTL = 50_000_000, 1_000_000, 16, 1, 3600
MAX_FILE_SIZE = os.environ.get("DENOISER_MAX_FILE_SIZE") or "200mb"

SIGMA_SLIDER_MAX = 75.0  # the UI slider; the API accepts up to 255
RESIDUAL_GAIN_RANGE = (1.0, 20.0)

# Example clean images bundled with scikit-image (no network needed).
EXAMPLE_IMAGES = ("astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "moon", "brick")
# (image, Gaussian sigma) for the ready-made noisy examples of the first tab; seeded.
NOISY_EXAMPLES = (("astronaut", 25), ("coffee", 15), ("camera", 35), ("chelsea", 50))
EXAMPLE_SEED = 0

# Parameters of each noise kind in the synthetic tab (names as denoiser.noise.make_noise takes them).
NOISE_PARAMS = {
    "gaussian": ("sigma",),
    "poisson": ("peak",),
    "salt-pepper": ("amount",),
    "nlf": ("beta1", "beta2"),
    "mask": ("fraction",),
}

try:  # Hugging Face ZeroGPU: a GPU is attached only inside functions decorated with spaces.GPU
    import spaces

    gpu = spaces.GPU
except ImportError:

    def gpu(fn: Callable) -> Callable:
        return fn


# ----------------------------------------------------------------------------- helpers


def _message(err: BaseException) -> str:
    return html.escape(str(err), quote=False)  # gr.Error renders HTML


def user_errors(fn: Callable) -> Callable:
    """Turn every exception into gr.Error with a readable message (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ImageReadError, ValueError) as err:
            raise gr.Error(_message(err), print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: try a smaller image.", print_exception=False) from None
        except Exception as err:  # noqa: BLE001 - shown to the user, logged with its traceback
            if type(err).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA)
                raise gr.Error("Out of GPU memory: try a smaller image.", print_exception=False) from None
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(err).__name__}: {_message(err)})", print_exception=False) from None

    return wrapper


def photo_input(**kwargs) -> gr.Image:
    """An image upload whose value is the uploaded file's path, untouched.

    gr.Image(type="filepath") opens the upload with Pillow before our code runs, so a file that
    is not an image fails there with a bare message naming a server path. This upload hands the
    path over as it is (no mode conversion: 16-bit, alpha and gray survive), and
    denoiser.io.read_image does all the checking (format, pixel limit, EXIF), its errors becoming
    gr.Error. (An instance override rather than a subclass: gradio writes a .pyi stub next to
    any module that defines a component class.)"""
    defaults = {"type": "filepath", "image_mode": None, "format": "png", "sources": ["upload", "clipboard"]}
    component = gr.Image(**(defaults | kwargs))
    original = component.preprocess

    def preprocess(payload):
        if payload is None:
            return None
        if payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001
            raise gr.Error(f"Could not read the uploaded image: {_message(err)}", print_exception=False) from None

    component.preprocess = preprocess
    return component


def load_image(path: str | os.PathLike | None, what: str = "image") -> np.ndarray:
    """Read an uploaded file with denoiser.io.read_image; errors name the file, not the temp path."""
    if path is None or str(path) == "":
        raise gr.Error(f"Please upload {what}.", print_exception=False)
    path = Path(path)
    try:
        return read_image(path, limit=MAX_PIXELS)
    except ImageReadError as err:
        text = str(err).replace(str(path), path.name)
        raise gr.Error(_message(text), print_exception=False) from None


def split_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour planes, alpha or None) of an (H, W[, C]) array."""
    if array.ndim == 3 and array.shape[2] in (2, 4):
        return array[..., :-1], array[..., -1:]
    return array, None


def describe(array: np.ndarray) -> str:
    """'640x480 RGB 8-bit' for an (H, W[, C]) uint8/uint16 array."""
    channels = 1 if array.ndim == 2 else array.shape[2]
    mode = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}[channels]
    depth = "16-bit" if array.dtype == np.uint16 else "8-bit"
    return f"{array.shape[1]}x{array.shape[0]} {mode} {depth}"


def size_text(array: np.ndarray) -> str:
    return f"{array.shape[1]}x{array.shape[0]}"


def estimate_image_sigma(array: np.ndarray) -> float:
    """denoiser.estimate_sigma on the float image without alpha (what denoise() estimates)."""
    from denoiser.noise import estimate_sigma

    planes, _ = split_alpha(to_float(array))
    return float(estimate_sigma(planes))


def check_reference(image: np.ndarray, reference: np.ndarray) -> None:
    """gr.Error unless the reference matches the image in size and colour layout."""
    if image.shape[:2] != reference.shape[:2]:
        raise gr.Error(
            f"The reference is {size_text(reference)} pixels but the image is {size_text(image)}; "
            "they must be the same size (width x height).",
            print_exception=False,
        )
    a, b = split_alpha(image)[0], split_alpha(reference)[0]
    if a.shape != b.shape:
        raise gr.Error(
            f"The reference ({describe(reference)}) and the image ({describe(image)}) differ in colour "
            "channels; use a reference with the same colour layout (both gray or both colour).",
            print_exception=False,
        )


def score(reference: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) with denoiser.metrics; alpha ignored, images of another bit depth as floats."""
    from denoiser.metrics import psnr, ssim

    ref, img = split_alpha(reference)[0], split_alpha(image)[0]
    if not np.issubdtype(img.dtype, np.floating) and img.dtype != ref.dtype:
        img = to_float(img)
    return psnr(ref, img), ssim(ref, img)


def _finite(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) else None


def to_display(array: np.ndarray) -> np.ndarray:
    """8-bit version of an image for the browser (float in [0, 1] is clipped)."""
    if array.dtype == np.uint8:
        return array
    return from_float(to_float(array).clip(0, 1), np.uint8)


def residual_map(noisy: np.ndarray, denoised: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """noisy - denoised, amplified so that 3 sigma spans half the range, centred at gray.
    Returns (uint8 image without alpha, gain)."""
    diff = split_alpha(to_float(noisy))[0] - split_alpha(to_float(denoised))[0]
    gain = float(np.clip(0.5 / max(3 * sigma / 255.0, 1e-6), *RESIDUAL_GAIN_RANGE))
    image = 0.5 + gain * diff
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    return from_float(image.clip(0, 1), np.uint8), gain


def save_png(array: np.ndarray, path: Path) -> str:
    """Fast lossless PNG for display (full resolution)."""
    from PIL import Image

    array = to_display(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    Image.fromarray(array).save(path, format="PNG", compress_level=1)
    return str(path)


class OutputDirs:
    """A fresh directory per request (so no two responses share a file name), pruned by age."""

    def __init__(self, ttl: int = OUTPUT_TTL) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="denoiser-app-"))
        self.ttl = ttl

    def fresh(self) -> Path:
        now = time.time()
        for old in self.root.iterdir():
            try:
                if now - old.stat().st_mtime > self.ttl:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        folder = self.root / uuid.uuid4().hex
        folder.mkdir()
        return folder


def _stem(path: str | os.PathLike | None, default: str = "image") -> str:
    stem = Path(path).stem if path else default
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or default


# Loaded models by key. The GPU function receives the key, not the model, because ZeroGPU runs
# it in a forked worker and pickles its arguments; the forked worker inherits this registry.
_MODELS: dict[str, object] = {}


@gpu
def run_model(model_key: str, image: np.ndarray, sigma: float, progress=None) -> np.ndarray:
    """denoiser.denoise at full resolution with the registered model (the GPU work).
    progress: a gr.Progress (or None); it gets (tiles done, tiles total)."""
    from denoiser.inference import denoise

    return denoise(image, _MODELS[model_key], sigma=sigma, progress=_progress_callback(progress, "Denoising"))


def _progress_callback(progress, desc: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress((done, total), desc=desc, unit="tiles")


@functools.lru_cache(maxsize=None)
def example_clean(name: str) -> np.ndarray:
    """A clean image from scikit-image's bundled data (read-only)."""
    import skimage.data

    if name not in EXAMPLE_IMAGES:
        raise ValueError(f"unknown example image {name!r}; expected one of {EXAMPLE_IMAGES}")
    array = np.ascontiguousarray(getattr(skimage.data, name)())
    array.setflags(write=False)
    return array


def make_noisy(clean: np.ndarray, kind: str, params: dict, seed: int) -> np.ndarray:
    """denoiser.noise.make_noise(kind, **params) applied to the float clean image with
    torch.Generator().manual_seed(seed); returns float32 (H, W[, C]) (not clipped)."""
    import torch

    from denoiser.noise import make_noise

    noise = make_noise(kind, **params)
    x = to_float(clean)
    planes = x if x.ndim == 3 else x[..., None]
    tensor = torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))
    noisy = noise(tensor, torch.Generator().manual_seed(int(seed))).numpy().transpose(1, 2, 0)
    return np.ascontiguousarray(noisy if x.ndim == 3 else noisy[..., 0], dtype=np.float32)


@functools.lru_cache(maxsize=1)
def example_files() -> tuple[tuple[str, str], ...]:
    """Write the seeded noisy examples (and their clean references) as 8-bit PNGs into a temp
    folder once per process; returns ((noisy path, reference path), ...)."""
    folder = Path(tempfile.mkdtemp(prefix="denoiser-examples-"))
    pairs = []
    for name, sigma in NOISY_EXAMPLES:
        clean = example_clean(name)
        noisy = from_float(make_noisy(clean, "gaussian", {"sigma": sigma}, EXAMPLE_SEED).clip(0, 1), np.uint8)
        noisy_path, clean_path = folder / f"{name}-sigma{sigma}.png", folder / f"{name}-clean.png"
        write_image(noisy_path, noisy)
        write_image(clean_path, np.asarray(clean))
        pairs.append((str(noisy_path), str(clean_path)))
    return tuple(pairs)


def center_crop(array: np.ndarray, limit: int) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Centre crop keeping the aspect ratio so that height x width <= limit; (crop, box or None)."""
    height, width = array.shape[:2]
    if height * width <= limit:
        return array, None
    scale = (limit / (height * width)) ** 0.5
    h, w = max(int(height * scale), 8), max(int(width * scale), 8)
    top, left = (height - h) // 2, (width - w) // 2
    return array[top : top + h, left : left + w], (left, top, w, h)


# ----------------------------------------------------------------------------- the app


@dataclass
class DenoiseResult:
    noisy: np.ndarray  # as read (uint8/uint16)
    denoised: np.ndarray  # same shape and dtype as noisy
    reference: np.ndarray | None
    sigma: float
    sigma_estimated: bool
    seconds: float
    path: str  # the full-resolution lossless PNG
    folder: Path
    metrics: dict = field(default_factory=dict)


class DenoiserApp:
    """The app's functions, bound to one loaded model; build_demo() wires them to the page."""

    def __init__(self, model) -> None:
        import torch

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model.to(self.device).eval()
        self.model_key = uuid.uuid4().hex
        _MODELS[self.model_key] = self.model
        self.outputs = OutputDirs()

    # -- model description ------------------------------------------------------------

    @property
    def model_label(self) -> str:
        name = getattr(self.model, "name", None) or type(self.model).__name__
        revision = getattr(self.model, "revision", None)
        return f"{name} (revision {revision})" if revision else str(name)

    def model_markdown(self) -> str:
        config = getattr(self.model, "config", None)
        params = sum(p.numel() for p in self.model.parameters())
        arch = f"{config.arch}, {'gray' if config.channels == 1 else 'RGB'}, " if config is not None else ""
        return (
            f"Model: **`{html.escape(self.model_label)}`** ({arch}{params / 1e6:.2f} M parameters) on "
            f"**{self.device}**. Images up to {MAX_PIXELS / 1e6:g} megapixels, processed at full resolution."
        )

    # -- tab 1: denoise a photo --------------------------------------------------------

    def process(self, image_path, reference_path=None, sigma=None, progress=None) -> DenoiseResult:
        """Core of the first tab and of /denoise: read, denoise, score, write the PNG."""
        from denoiser.inference import check_sigma

        noisy = load_image(image_path, "a noisy photo")
        reference = load_image(reference_path, "a reference") if reference_path else None
        if reference is not None:
            check_reference(noisy, reference)
        if min(noisy.shape[:2]) < 3:
            raise gr.Error(f"The image is too small ({size_text(noisy)}); it needs at least 3x3 pixels.")
        estimated = sigma is None
        sigma = estimate_image_sigma(noisy) if estimated else check_sigma(sigma)

        start = time.perf_counter()
        denoised = run_model(self.model_key, noisy, sigma, progress)
        seconds = time.perf_counter() - start

        folder = self.outputs.fresh()
        path = folder / f"{_stem(image_path)}-denoised.png"
        write_image(path, denoised)  # lossless, same bit depth and channels as the input
        metrics = {"psnr_noisy": None, "ssim_noisy": None, "psnr_denoised": None, "ssim_denoised": None}
        if reference is not None:
            metrics["psnr_noisy"], metrics["ssim_noisy"] = score(reference, noisy)
            metrics["psnr_denoised"], metrics["ssim_denoised"] = score(reference, denoised)
        metrics.update(sigma=float(sigma), seconds=float(seconds))
        return DenoiseResult(noisy, denoised, reference, float(sigma), estimated, seconds, str(path), folder, metrics)

    @staticmethod
    def metrics_table(metrics: dict, against: str = "reference"):
        """Rows noisy / denoised / gain against the reference; an empty table without one."""
        import pandas as pd

        columns = ["", "PSNR (dB)", "SSIM"]
        if metrics.get("psnr_denoised") is None:
            return pd.DataFrame(columns=columns)

        def r(value, digits):
            return round(value, digits) if np.isfinite(value) else str(value)  # inf: identical images

        pn, sn, pd_, sd = (metrics[k] for k in ("psnr_noisy", "ssim_noisy", "psnr_denoised", "ssim_denoised"))
        rows = [
            [f"noisy vs {against}", r(pn, 2), r(sn, 4)],
            [f"denoised vs {against}", r(pd_, 2), r(sd, 4)],
            ["gain", r(pd_ - pn, 2), r(sd - sn, 4)],
        ]
        return pd.DataFrame(rows, columns=columns)

    def estimate(self, image_path):
        """On upload: (slider value, auto-estimate text, remembered estimate) for the sigma control."""
        if not image_path:
            return gr.update(), "Upload a photo to estimate its noise level.", None
        array = load_image(image_path, "a noisy photo")
        if min(array.shape[:2]) < 3:
            raise gr.Error(f"The image is too small ({size_text(array)}); it needs at least 3x3 pixels.")
        sigma = estimate_image_sigma(array)
        note = f"Estimated noise level: **σ ≈ {sigma:.1f}** (0–255 scale) for this {describe(array)} image."
        if sigma > SIGMA_SLIDER_MAX:
            note += f" The slider stops at {SIGMA_SLIDER_MAX:g}; keep *auto* on to use the estimate."
        # The slider shows the estimate to 0.1; auto uses the exact value remembered here.
        return round(min(sigma, SIGMA_SLIDER_MAX), 1), note, {"path": str(image_path), "sigma": sigma}

    def denoise_photo(self, image_path, reference_path, sigma, auto, remembered=None, progress=gr.Progress()):
        """UI: (before/after slider, residual map, download file, metrics table, status)."""
        if auto:
            cached = remembered if isinstance(remembered, dict) and remembered.get("path") == str(image_path) else None
            sigma = cached["sigma"] if cached else None
        elif sigma is None:
            raise gr.Error("Set a noise level (σ) or tick auto.", print_exception=False)
        result = self.process(image_path, reference_path, sigma, progress)
        result.sigma_estimated = bool(auto)  # a remembered estimate is still an estimate
        folder = result.folder
        before = save_png(result.noisy, folder / "before.png")
        after = save_png(result.denoised, folder / "after.png")
        residual, gain = residual_map(result.noisy, result.denoised, result.sigma)
        residual_path = save_png(residual, folder / "residual.png")
        how = "estimated" if result.sigma_estimated else "set by you"
        status = (
            f"Denoised a {describe(result.noisy)} image in {result.seconds:.2f} s with σ = {result.sigma:.1f} ({how}). "
            f"Residual map amplified ×{gain:.1f} around gray. The download is a lossless "
            f"{'16' if result.denoised.dtype == np.uint16 else '8'}-bit PNG at full resolution."
        )
        if result.reference is not None:
            m = result.metrics
            status += f" PSNR gain vs reference: {m['psnr_denoised'] - m['psnr_noisy']:+.2f} dB."
        return (before, after), residual_path, result.path, self.metrics_table(result.metrics), status

    def denoise_api(self, image, reference=None, sigma=None, progress=gr.Progress()):
        """/denoise: (image file, reference file or None, sigma 0-255 or None) -> (PNG path, metrics)."""
        result = self.process(image, reference or None, sigma, progress)
        metrics = {k: (_finite(v) if k.startswith(("psnr", "ssim")) else v) for k, v in result.metrics.items()}
        return result.path, metrics

    # -- tab 2: synthetic noise -------------------------------------------------------

    def synthetic(self, example, clean_path, kind, sigma, peak, amount, beta1, beta2, fraction, seed, progress=gr.Progress()):
        """UI: (clean, noisy, denoised image paths, metrics table, status)."""
        from denoiser.noise import estimate_sigma

        if clean_path:
            clean = load_image(clean_path, "a clean image")
            source = f"your image ({describe(clean)})"
        else:
            example = example or EXAMPLE_IMAGES[0]
            clean = np.asarray(example_clean(example))
            source = f"scikit-image `{example}`"
        clean = split_alpha(clean)[0]  # noise and scores on the colour planes
        if clean.ndim == 3 and clean.shape[2] == 1:
            clean = clean[..., 0]
        if min(clean.shape[:2]) < 7:
            raise gr.Error(f"The image is too small ({size_text(clean)}); it needs at least 7x7 pixels.")
        values = {"sigma": sigma, "peak": peak, "amount": amount, "beta1": beta1, "beta2": beta2, "fraction": fraction}
        if kind not in NOISE_PARAMS:
            raise gr.Error(f"Unknown noise kind {kind!r}; choose one of {', '.join(NOISE_PARAMS)}.")
        params = {name: float(values[name]) for name in NOISE_PARAMS[kind]}
        if seed is None or not float(seed).is_integer():
            raise gr.Error("The seed must be an integer.", print_exception=False)
        noisy = make_noisy(clean, kind, params, int(seed))
        known = kind == "gaussian" and params["sigma"] <= 255
        used = params["sigma"] if known else float(estimate_sigma(noisy))
        start = time.perf_counter()
        denoised = run_model(self.model_key, noisy, used, progress)
        seconds = time.perf_counter() - start
        metrics = dict(zip(("psnr_noisy", "ssim_noisy"), score(clean, noisy)))
        metrics.update(zip(("psnr_denoised", "ssim_denoised"), score(clean, denoised)))

        folder = self.outputs.fresh()
        paths = [save_png(a, folder / f"{n}.png") for n, a in (("clean", clean), ("noisy", noisy), ("denoised", denoised))]
        text = ", ".join(f"{k} = {v:g}" for k, v in params.items())
        status = (
            f"{kind} noise ({text}, seed {int(seed)}) on {source}; denoised in {seconds:.2f} s with "
            f"σ = {used:.1f} ({'the true value' if known else 'estimated from the noisy image'})."
        )
        return (*paths, self.metrics_table(metrics, "clean"), status)

    # -- tab 3: compare -----------------------------------------------------------------

    def compare(self, image_path, reference_path, sigma=None, auto=None, progress=gr.Progress()):
        """UI: (gallery of outputs, table of PSNR / SSIM / seconds per method, note).
        sigma None or auto: estimate it. A method that fails is reported, the others still run."""
        import pandas as pd

        from denoiser.baselines import METHODS, classical_denoise
        from denoiser.inference import check_sigma

        noisy = load_image(image_path, "a noisy photo")
        reference = load_image(reference_path, "a reference") if reference_path else None
        if reference is not None:
            check_reference(noisy, reference)
        noisy, box = center_crop(noisy, COMPARE_MAX_PIXELS)
        notes = []
        if box is not None:
            left, top, w, h = box
            reference = None if reference is None else reference[top : top + h, left : left + w]
            notes.append(
                f"The image is larger than {COMPARE_MAX_PIXELS / 1e6:g} MP, so Compare runs on its centre "
                f"{w}x{h} crop (bilateral and non-local means are slow on big images); use the first tab "
                "for the full-resolution result."
            )
        if min(noisy.shape[:2]) < 7:
            raise gr.Error(f"The image is too small ({size_text(noisy)}); it needs at least 7x7 pixels.")
        estimated = bool(auto) or sigma is None
        sigma = estimate_image_sigma(noisy) if estimated else check_sigma(sigma)
        planes, alpha = split_alpha(to_float(noisy))
        if planes.ndim == 3 and planes.shape[2] == 1:
            planes = planes[..., 0]

        folder = self.outputs.fresh()
        gallery = [(save_png(noisy, folder / "00-noisy.png"), "noisy input")]
        rows = []
        if reference is not None:
            rows.append(["noisy input", *score(reference, noisy), None])
        methods, failed = ["autoencoder", *METHODS], []
        for i, method in enumerate(methods, 1):
            if progress is not None:
                progress((i - 1, len(methods)), desc=f"Running {method}", unit="methods")
            start = time.perf_counter()
            try:
                if method == "autoencoder":
                    out = run_model(self.model_key, noisy, sigma)
                else:
                    out = classical_denoise(planes, method, sigma)
            except Exception as err:  # noqa: BLE001 - one failing baseline must not sink the table
                log.warning("compare: %s failed: %s", method, err)
                failed.append(f"{method} failed ({type(err).__name__}: {_message(err)})")
                continue
            seconds = time.perf_counter() - start
            gallery.append((save_png(out, folder / f"{i:02d}-{method}.png"), f"{method} ({seconds:.2f} s)"))
            scores = score(reference, out) if reference is not None else (None, None)
            rows.append([method, *scores, seconds])
        table = pd.DataFrame(rows, columns=["method", "PSNR (dB)", "SSIM", "seconds"])
        table = table.round({"PSNR (dB)": 2, "SSIM": 4, "seconds": 3}).replace([np.inf], "inf")
        if reference is None:
            table = table.drop(columns=["PSNR (dB)", "SSIM"])
            notes.append("Upload a clean reference to score the methods (PSNR / SSIM).")
        notes.insert(0, f"All methods used σ = {sigma:.1f} ({'estimated' if estimated else 'set by you'}).")
        if failed:
            notes.append("; ".join(failed) + ".")
        if alpha is not None:
            notes.append("Alpha is ignored by the classical methods and the scores.")
        return gallery, table, " ".join(notes)


# ----------------------------------------------------------------------------- the page


def build_demo(model=None) -> gr.Blocks:
    """The Gradio app. model=None loads one with denoiser.load_model() ($DENOISER_MODEL or the
    shipped default); raises denoiser.ModelLoadError when that fails."""
    if _CONFIG_ERROR is not None:
        raise _CONFIG_ERROR
    if model is None:
        import torch

        from denoiser.hub import load_model

        model = load_model(device="cuda" if torch.cuda.is_available() else "cpu")
    app = DenoiserApp(model)
    examples = example_files()
    hidden = {"api_visibility": "undocumented"}

    with gr.Blocks(title="Photo denoiser", analytics_enabled=False, delete_cache=(1800, OUTPUT_TTL)) as demo:
        gr.Markdown("# Photo denoiser\nA denoising autoencoder for photos: upload a noisy photo and get it back cleaned, at full resolution.")
        gr.Markdown(app.model_markdown(), elem_id="model-info")

        with gr.Tab("Denoise a photo", id="denoise"):
            remembered = gr.State(None)
            with gr.Row():
                with gr.Column():
                    noisy_in = photo_input(label="Noisy photo (PNG, JPEG, TIFF...; 8 or 16-bit; gray, RGB or RGBA)", elem_id="noisy-input")
                    ref_in = photo_input(label="Clean reference (optional, same size): enables PSNR / SSIM", elem_id="reference-input")
                    with gr.Group():
                        auto = gr.Checkbox(value=True, label="auto: estimate the noise level from the photo", elem_id="sigma-auto")
                        sigma = gr.Slider(0, SIGMA_SLIDER_MAX, value=25, step=0.1, label="Strength: noise level σ (0–255 scale)", elem_id="sigma-slider")
                        sigma_note = gr.Markdown("Upload a photo to estimate its noise level.", elem_id="sigma-note")
                    run = gr.Button("Denoise", variant="primary", elem_id="denoise-button")
                with gr.Column():
                    slider = gr.ImageSlider(label="Before / after (full resolution)", format="png", type="filepath", interactive=False, elem_id="result-slider")
                    status = gr.Markdown(elem_id="denoise-status")
                    metrics = gr.Dataframe(label="Quality against the reference", interactive=False, elem_id="metrics-table")
                    residual = gr.Image(label="Residual: noisy − denoised (amplified, gray = 0)", format="png", type="filepath", interactive=False, elem_id="residual")
                    download = gr.File(label="Download the denoised photo (lossless PNG, input bit depth)", interactive=False, elem_id="download")
            gr.Examples(
                examples=[list(pair) for pair in examples],
                inputs=[noisy_in, ref_in],
                example_labels=[f"{name}, Gaussian σ = {s}" for name, s in NOISY_EXAMPLES],
                cache_examples=False,
                label="Examples (scikit-image images with seeded Gaussian noise, with their clean references)",
            )
            noisy_in.change(user_errors(app.estimate), noisy_in, [sigma, sigma_note, remembered], **hidden)
            sigma.input(lambda: False, None, auto, queue=False, **hidden)  # moving the slider overrides auto
            run.click(
                user_errors(app.denoise_photo),
                [noisy_in, ref_in, sigma, auto, remembered],
                [slider, residual, download, metrics, status],
                **hidden,
            )

        with gr.Tab("Try synthetic noise", id="synthetic"):
            with gr.Row():
                with gr.Column():
                    example = gr.Dropdown(list(EXAMPLE_IMAGES), value=EXAMPLE_IMAGES[0], label="Example clean image (scikit-image)")
                    clean_in = photo_input(label="…or upload a clean image (overrides the example)", elem_id="clean-input")
                    kind = gr.Dropdown(list(NOISE_PARAMS), value="gaussian", label="Noise kind")
                    p_sigma = gr.Slider(0, 100, value=25, step=0.5, label="sigma (0–255 scale)")
                    p_peak = gr.Slider(1, 300, value=30, step=1, label="peak (photons at white; lower is noisier)", visible=False)
                    p_amount = gr.Slider(0, 0.5, value=0.05, step=0.005, label="amount (fraction of pixels hit)", visible=False)
                    p_beta1 = gr.Slider(0, 0.05, value=0.01, step=0.0005, label="beta1 (signal-dependent variance)", visible=False)
                    p_beta2 = gr.Slider(0, 0.01, value=0.0005, step=0.0001, label="beta2 (constant variance)", visible=False)
                    p_fraction = gr.Slider(0, 0.9, value=0.25, step=0.01, label="fraction of pixels masked", visible=False)
                    seed = gr.Number(value=0, precision=0, minimum=0, label="seed (same seed, same noise)")
                    syn_run = gr.Button("Add noise and denoise", variant="primary", elem_id="synthetic-button")
                with gr.Column():
                    with gr.Row():
                        syn_clean = gr.Image(label="clean", format="png", type="filepath", interactive=False)
                        syn_noisy = gr.Image(label="noisy", format="png", type="filepath", interactive=False)
                        syn_denoised = gr.Image(label="denoised", format="png", type="filepath", interactive=False)
                    syn_metrics = gr.Dataframe(label="Quality against the clean original", interactive=False)
                    syn_status = gr.Markdown()
            sliders = {"sigma": p_sigma, "peak": p_peak, "amount": p_amount, "beta1": p_beta1, "beta2": p_beta2, "fraction": p_fraction}

            def show_params(kind):
                return [gr.update(visible=name in NOISE_PARAMS.get(kind, ())) for name in sliders]

            kind.change(show_params, kind, list(sliders.values()), queue=False, **hidden)
            syn_run.click(
                user_errors(app.synthetic),
                [example, clean_in, kind, *sliders.values(), seed],
                [syn_clean, syn_noisy, syn_denoised, syn_metrics, syn_status],
                **hidden,
            )

        with gr.Tab("Compare", id="compare"):
            gr.Markdown(
                "The autoencoder against the classical denoisers (median, bilateral, non-local means, total "
                f"variation, wavelet, truncated SVD) on the same input. Bilateral and non-local means are slow "
                f"on big images, so images above {COMPARE_MAX_PIXELS / 1e6:g} megapixels are centre-cropped to that size."
            )
            with gr.Row():
                with gr.Column():
                    cmp_noisy = photo_input(label="Noisy photo", elem_id="compare-input")
                    cmp_ref = photo_input(label="Clean reference (optional)", elem_id="compare-reference")
                    with gr.Group():
                        cmp_auto = gr.Checkbox(value=True, label="auto: estimate the noise level")
                        cmp_sigma = gr.Slider(1, SIGMA_SLIDER_MAX, value=25, step=0.5, label="noise level σ for all methods (0–255 scale)")
                    with gr.Row():
                        copy = gr.Button("Use the photo from the first tab")
                        cmp_run = gr.Button("Compare", variant="primary", elem_id="compare-button")
                with gr.Column():
                    cmp_gallery = gr.Gallery(label="Outputs", format="png", columns=4, height="auto")
                    cmp_table = gr.Dataframe(label="Scores and time per method", interactive=False)
                    cmp_note = gr.Markdown()
            gr.Examples(examples=[list(pair) for pair in examples], inputs=[cmp_noisy, cmp_ref], cache_examples=False,
                        example_labels=[f"{name}, Gaussian σ = {s}" for name, s in NOISY_EXAMPLES])
            copy.click(lambda a, b: (a, b), [noisy_in, ref_in], [cmp_noisy, cmp_ref], queue=False, **hidden)
            cmp_sigma.input(lambda: False, None, cmp_auto, queue=False, **hidden)
            cmp_run.click(user_errors(app.compare), [cmp_noisy, cmp_ref, cmp_sigma, cmp_auto], [cmp_gallery, cmp_table, cmp_note], **hidden)

        # The programmatic endpoint: /denoise(image, reference | None, sigma | None) -> (PNG path, metrics).
        with gr.Row(visible=False):
            api_image = photo_input(label="image")
            api_reference = photo_input(label="reference (optional)")
            api_sigma = gr.Number(value=None, minimum=0, maximum=255, label="sigma (0-255; None: estimate)")
            api_result = gr.Image(label="denoised PNG", type="filepath", format="png")
            api_metrics = gr.JSON(label="metrics")
            api_button = gr.Button("denoise")
        api_button.click(
            user_errors(app.denoise_api),
            [api_image, api_reference, api_sigma],
            [api_result, api_metrics],
            api_name="denoise",
            api_description="Denoise one image at full resolution; returns the PNG and PSNR/SSIM against the optional reference.",
        )
    demo.denoiser_app = app  # for tests and embedding
    return demo


def main() -> int:
    from denoiser.hub import ModelLoadError

    try:
        demo = build_demo()
    except (ModelLoadError, ValueError) as err:
        message = " ".join(str(err).split())
        print(f"error: could not start the denoiser app: {message}", file=sys.stderr)
        return 1
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY).launch(
        show_error=True, max_file_size=MAX_FILE_SIZE
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
