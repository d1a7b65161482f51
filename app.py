"""Gradio web app for the photo denoiser (runs locally or as a Hugging Face Space).

    python app.py                       # http://127.0.0.1:7860

Tabs: "Denoise a photo" (upload, optional clean reference, noise level sigma or, for a blind
model, a strength slider), "Try synthetic noise" (seeded noise on a clean image, then denoise)
and "Compare" (the autoencoders against the classical baselines). When more than one model is
loaded, each of the first two tabs has a model choice: "Real photo (camera noise)" (the blind
`real` model, the photo tab's default) and "Synthetic Gaussian noise" (the `gaussian` model,
which takes sigma; the synthetic tab's default). Named API endpoints serve programs:

    from gradio_client import Client, handle_file
    path, metrics = Client(url).predict(handle_file("noisy.png"), None, None, api_name="/denoise")

/denoise takes (image file, reference file or None, sigma on the 0-255 scale or None to
estimate it) and runs the photo tab's default model (`real` when it is loaded). It returns
(path of the full-resolution denoised PNG, metrics dict with keys psnr_noisy, ssim_noisy,
psnr_denoised, ssim_denoised, sigma, seconds, model, strength; the four metric values are None
without a reference, and PSNR is None for a pixel-identical image). A blind model (config
noise_map False) does not take sigma: a given sigma is validated and ignored, and `sigma` in
the metrics is the noise level estimated from the image.

/denoise_with_model takes (image, reference or None, sigma or None, model name or None, strength
in [0, 1], default 1) and lets a program pick the model; None means /denoise's model. (A 4th
input on /denoise itself would be fine for gradio_client, which fills trailing inputs that have
defaults, but gradio's server refuses a call with fewer values than inputs, so a raw HTTP caller
sending 3 values would break; hence a separate endpoint.)

Models are loaded once, in build_demo(), with denoiser.load_model(): $DENOISER_MODEL names one
model (a Hub repo id, optionally `owner/name@revision`, a local weights folder, or a shipped
name) and only that one is loaded; unset means every shipped model whose weights are present
(`real`, `gaussian`). They run on CUDA when available (ZeroGPU: the model call is wrapped in
spaces.GPU when the `spaces` package is importable).

Environment variables (read at import time into the module constants below):
    DENOISER_MODEL               model to load (see above)
    DENOISER_MAX_PIXELS          largest accepted image in pixels (MAX_PIXELS; default 50 MP)
    DENOISER_COMPARE_MAX_PIXELS  the Compare tab centre-crops larger images to this (default 1 MP)
    DENOISER_QUEUE_SIZE          requests waiting in the queue before new ones are refused (64)
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
import struct
import sys
import tempfile
import threading
import time
import uuid
import weakref
import zlib
from collections.abc import Mapping
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
    QUEUE_SIZE = _env_int("DENOISER_QUEUE_SIZE", 64)
    CONCURRENCY = _env_int("DENOISER_CONCURRENCY", 1)
    OUTPUT_TTL = _env_int("DENOISER_OUTPUT_TTL", 3600)
except ValueError as _err:  # reported by build_demo() / `python app.py` as a plain error
    _CONFIG_ERROR = _err
    MAX_PIXELS, COMPARE_MAX_PIXELS, QUEUE_SIZE, CONCURRENCY, OUTPUT_TTL = 50_000_000, 1_000_000, 16, 1, 3600
MAX_FILE_SIZE = os.environ.get("DENOISER_MAX_FILE_SIZE") or "200mb"

SIGMA_SLIDER_MAX = 75.0  # the UI slider; the API accepts up to 255

# The shipped models, in the order the model choice lists them, with their labels and the one
# sentence that tells them apart. A model under another name is listed by its name.
MODEL_ORDER = ("real", "gaussian")
MODEL_LABELS = {"real": "Real photo (camera noise)", "gaussian": "Synthetic Gaussian noise"}
MODEL_HELP = (
    "**Real photo (camera noise)** was trained on real camera noise and is blind (it needs no noise "
    "level): lower its strength slider to keep more texture and grain; it is made for mild to moderate "
    "noise, so for very grainy photos try the other model. **Synthetic Gaussian noise** is for white "
    "Gaussian noise of a known or estimated level σ."
)
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


# Every file a response hands to gradio is unique in its bytes (the same-image race).
#
# Cause: gradio's file cache is content-addressed. After a function returns, each output file
# goes to <GRADIO_TEMP_DIR>/<sha256 of its bytes>/<name> (gradio 6.31.0: blocks.py 2394 ->
# processing_utils.py 676 -> Block.async_move_resource_to_block_cache, blocks.py 339-377 ->
# hash_file / save_file_to_cache, processing_utils.py 158-164 / 269-302), so two visitors who
# send the same image get byte-identical outputs and share ONE cache file. /file= serves it with
# starlette's FileResponse, which stats the file for Content-Length and then reads until a short
# chunk (route_utils.py file_fetch 1553-1620; starlette responses.py FileResponse.__call__ /
# _handle_simple). A writer that rewrites the shared path in place while the other download runs
# (open "wb" truncates first) makes the read come up short: h11 raises "Too little data for
# declared Content-Length" (h11/_writers.py 96) and the client sees "peer closed connection
# without sending complete message body". gradio's array/PIL/bytes writers do exactly that
# (save_pil_to_cache, processing_utils.py 201 `write_bytes`; save_bytes_to_cache, 264): a bare
# app returning numpy images failed 21 of 72 requests here, 12 identical ones at a time. For
# file paths, 6.31.0 reuses an existing copy (279-287) or writes a staging file and os.replace()s
# it (293-297), which is safe; but sharing a cache file between requests is the hazard itself
# (any in-place writer, delete_cache's per-file ctime ageing, gradio_client's downloads, which
# are filed under <sha256>/<name> too), and requirements allow any gradio>=6.0.
#
# Fix: (1) the app returns only paths of files it wrote itself into a fresh per-request folder,
# never arrays or PIL images; (2) each returned PNG gets a tEXt chunk naming its request folder
# (a uuid4) and file (unique_png), so no two responses ever have equal bytes or share a cache
# file. Pixels are untouched (tEXt is ancillary metadata). tests/test_app.py checks both.

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC of b"IEND"
PNG_TAG_KEYWORD = "denoiser-response"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def tag_png(path: str | os.PathLike, text: str, keyword: str = PNG_TAG_KEYWORD) -> str:
    """Insert a tEXt chunk (keyword, text) just before IEND of the PNG at `path`, in place.

    For files this app has just written and not yet handed out. Pillow and OpenCV both end a
    PNG with IEND, so the chunk is written over the last 12 bytes (no rewrite of the image
    data); otherwise the chunks are parsed and the file is rewritten. Returns str(path)."""
    chunk = _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
    path = Path(path)
    with open(path, "r+b") as f:
        if f.read(8) != _PNG_SIGNATURE:
            raise ValueError(f"{path.name}: not a PNG file")
        size = f.seek(0, os.SEEK_END)
        if size >= 8 + 12:
            f.seek(size - 12)
            if f.read(12) == _PNG_IEND:
                f.seek(size - 12)
                f.write(chunk + _PNG_IEND)
                return str(path)
        f.seek(8)
        data = f.read()
    offset = 0
    while offset + 12 <= len(data):  # walk the chunks to IEND; anything after it is dropped
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == b"IEND":
            break
        offset += 12 + length
    else:
        raise ValueError(f"{path.name}: PNG without an IEND chunk")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    with os.fdopen(fd, "wb") as out:
        out.write(_PNG_SIGNATURE + data[:offset] + chunk + _PNG_IEND)
    os.replace(tmp, path)
    return str(path)


def unique_png(path: str | os.PathLike) -> str:
    """tag_png with '<request folder>/<file name>' (the folder name is a fresh uuid4)."""
    path = Path(path)
    return tag_png(path, f"{path.parent.name}/{path.name}")


def save_png(array: np.ndarray, path: Path) -> str:
    """Fast lossless PNG for display (full resolution), unique in its bytes (see unique_png)."""
    from PIL import Image

    array = to_display(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    Image.fromarray(array).save(path, format="PNG", compress_level=1)
    return unique_png(path)


def _prune_interval(ttl: int) -> int:
    """Seconds between clean-ups of files older than `ttl` (gradio's cache and ours)."""
    return max(1, min(1800, ttl // 2))


class OutputDirs:
    """A fresh directory per request (so no two responses share a file name), pruned by age:
    on each new request and by a background thread every _prune_interval(ttl) seconds. The
    root is removed when the object is collected or the process exits."""

    def __init__(self, ttl: int | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="denoiser-app-"))
        self.ttl = OUTPUT_TTL if ttl is None else ttl
        self._pruner: threading.Thread | None = None
        self._lock = threading.Lock()
        weakref.finalize(self, shutil.rmtree, str(self.root), True)

    def prune(self) -> None:
        now = time.time()
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return
        for old in entries:
            try:
                if now - old.stat().st_mtime > self.ttl:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass

    def _start_pruner(self) -> None:
        with self._lock:
            if self._pruner is not None:
                return
            ref, interval = weakref.ref(self), _prune_interval(self.ttl)

            def loop() -> None:
                while True:
                    time.sleep(interval)
                    dirs = ref()
                    if dirs is None or not dirs.root.is_dir():
                        return
                    dirs.prune()
                    del dirs

            self._pruner = threading.Thread(target=loop, name="denoiser-output-pruner", daemon=True)
            self._pruner.start()

    def fresh(self) -> Path:
        self._start_pruner()
        self.prune()
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder


def _stem(path: str | os.PathLike | None, default: str = "image") -> str:
    stem = Path(path).stem if path else default
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or default


# Loaded models by key. The GPU function receives the key, not the model, because ZeroGPU runs
# it in a forked worker and pickles its arguments; the forked worker inherits this registry.
_MODELS: dict[str, object] = {}


@gpu
def run_model(model_key: str, image: np.ndarray, sigma: float | None, progress=None, strength: float = 1.0) -> np.ndarray:
    """denoiser.denoise at full resolution with the registered model (the GPU work).
    progress: a gr.Progress (or None); it gets (tiles done, tiles total). A blind model ignores
    sigma; strength in [0, 1] blends the input back in."""
    from denoiser.inference import denoise

    return denoise(
        image, _MODELS[model_key], sigma=sigma, progress=_progress_callback(progress, "Denoising"), strength=strength
    )


def is_blind(model) -> bool:
    """True for a model that takes no noise level (config.noise_map False)."""
    config = getattr(model, "config", None)
    return config is not None and not config.noise_map


def model_label(name: str) -> str:
    return MODEL_LABELS.get(name, name)


def _check_strength(strength) -> float:
    if strength is None:
        return 1.0
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise gr.Error(f"The strength must be a number between 0 and 1, got {strength!r}.", print_exception=False) from None
    if not 0 <= value <= 1:
        raise gr.Error(f"The strength must be between 0 and 1, got {value:g}.", print_exception=False)
    return value


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
    model: str = ""  # name of the model used
    blind: bool = False  # the model took no sigma (sigma is then the estimate, for information)
    strength: float = 1.0


def _single_name(model) -> str:
    """The name a lone model is listed under: its shipped name, else 'custom'."""
    from denoiser.hub import SHIPPED_MODELS

    name = getattr(model, "name", None)
    return name if name in SHIPPED_MODELS else "custom"


def _pick_default(models: Mapping, preferred: str, blind: bool) -> str:
    """`preferred` when loaded, else the first model of the wanted kind, else the first model."""
    if preferred in models:
        return preferred
    return next((name for name, m in models.items() if is_blind(m) == blind), next(iter(models)))


class DenoiserApp:
    """The app's functions, bound to the loaded models; build_demo() wires them to the page.

    models: {name: model} (or one model). The photo tab and /denoise default to `real` (else
    the first blind model, else the first); the synthetic tab to `gaussian` (else the first
    model that takes sigma). `model` / `model_key` are the photo default's."""

    def __init__(self, models) -> None:
        import torch

        if not isinstance(models, Mapping):
            models = {_single_name(models): models}
        if not models:
            raise ValueError("DenoiserApp needs at least one model")
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.models = {str(name): m.to(self.device).eval() for name, m in models.items()}
        self.model_keys = {}
        for name, m in self.models.items():
            self.model_keys[name] = uuid.uuid4().hex
            _MODELS[self.model_keys[name]] = m
        self.photo_default = _pick_default(self.models, "real", blind=True)
        self.synthetic_default = _pick_default(self.models, "gaussian", blind=False)
        self.model = self.models[self.photo_default]
        self.model_key = self.model_keys[self.photo_default]
        self.outputs = OutputDirs()

    # -- models ---------------------------------------------------------------------------

    def resolve(self, name: str | None, default: str | None = None) -> str:
        """The loaded model's name for a name or label (None or '': `default`, else the photo default)."""
        if name is None or str(name).strip() == "":
            return default or self.photo_default
        name = str(name).strip()
        if name in self.models:
            return name
        by_label = {model_label(n): n for n in self.models}
        if name in by_label:
            return by_label[name]
        raise gr.Error(
            f"Unknown model {html.escape(name)!r}; this app has {', '.join(map(repr, self.models))}.",
            print_exception=False,
        )

    def blind(self, name: str | None) -> bool:
        return is_blind(self.models[self.resolve(name)])

    def choices(self) -> list[tuple[str, str]]:
        """(label, name) pairs for the model radio, shipped models first in MODEL_ORDER."""
        names = sorted(self.models, key=lambda n: (MODEL_ORDER.index(n) if n in MODEL_ORDER else len(MODEL_ORDER)))
        return [(model_label(n), n) for n in names]

    def model_help(self) -> str:
        """The sentence telling the loaded models apart (the shipped ones' text when both are here)."""
        if set(self.models) == set(MODEL_ORDER):
            return MODEL_HELP
        parts = []
        for label, name in self.choices():
            how = "blind (no noise level): use the strength slider to keep texture" if self.blind(name) else "takes a noise level σ"
            parts.append(f"**{html.escape(label)}**: {how}.")
        return " ".join(parts)

    def controls(self, name: str | None):
        """Visibility of (auto checkbox, sigma slider, strength slider) for the chosen model."""
        blind = self.blind(name)
        return gr.update(visible=not blind), gr.update(visible=not blind), gr.update(visible=blind)

    # -- model description ------------------------------------------------------------

    @staticmethod
    def _label_of(model) -> str:
        name = getattr(model, "name", None) or type(model).__name__
        revision = getattr(model, "revision", None)
        return f"{name} (revision {revision})" if revision else str(name)

    @property
    def model_label(self) -> str:
        """Where the photo default model came from (and its revision)."""
        return self._label_of(self.model)

    def model_markdown(self) -> str:
        parts = []
        for label, name in self.choices():
            model = self.models[name]
            config = getattr(model, "config", None)
            params = sum(p.numel() for p in model.parameters())
            arch = f"{config.arch}, {'gray' if config.channels == 1 else 'RGB'}, " if config is not None else ""
            kind = "blind, " if is_blind(model) else ""
            prefix = f"{html.escape(label)}: " if len(self.models) > 1 else ""
            parts.append(f"{prefix}**`{html.escape(self._label_of(model))}`** ({arch}{kind}{params / 1e6:.2f} M parameters)")
        return (
            f"{'Models' if len(parts) > 1 else 'Model'}: {'; '.join(parts)} on **{self.device}**. "
            f"Images up to {MAX_PIXELS / 1e6:g} megapixels, processed at full resolution."
        )

    # -- tab 1: denoise a photo --------------------------------------------------------

    def process(self, image_path, reference_path=None, sigma=None, progress=None, model=None, strength=1.0) -> DenoiseResult:
        """Core of the first tab and of the API: read, denoise, score, write the PNG.
        model: a loaded model's name (None: the photo default). A blind model ignores sigma
        (a given one is still validated); sigma is then the estimate, reported for information."""
        from denoiser.inference import check_sigma, image_sigma

        name = self.resolve(model)
        blind = is_blind(self.models[name])
        strength = _check_strength(strength)
        noisy = load_image(image_path, "a noisy photo")
        reference = load_image(reference_path, "a reference") if reference_path else None
        if reference is not None:
            check_reference(noisy, reference)
        if min(noisy.shape[:2]) < 3:
            raise gr.Error(f"The image is too small ({size_text(noisy)}); it needs at least 3x3 pixels.")
        if sigma is not None:
            sigma = check_sigma(sigma)
        estimated = sigma is None or blind
        if estimated:
            sigma = image_sigma(noisy)

        start = time.perf_counter()
        denoised = run_model(self.model_keys[name], noisy, None if blind else sigma, progress, strength)
        seconds = time.perf_counter() - start

        folder = self.outputs.fresh()
        path = folder / f"{_stem(image_path)}-denoised.png"
        write_image(path, denoised)  # lossless, same bit depth and channels as the input
        unique_png(path)  # no two responses share bytes (see unique_png)
        metrics = {"psnr_noisy": None, "ssim_noisy": None, "psnr_denoised": None, "ssim_denoised": None}
        if reference is not None:
            metrics["psnr_noisy"], metrics["ssim_noisy"] = score(reference, noisy)
            metrics["psnr_denoised"], metrics["ssim_denoised"] = score(reference, denoised)
        metrics.update(sigma=float(sigma), seconds=float(seconds), model=name, strength=strength)
        return DenoiseResult(
            noisy, denoised, reference, float(sigma), estimated, seconds, str(path), folder, metrics, name, blind, strength
        )

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

    def estimate(self, image_path, model=None):
        """On upload: (slider value, auto-estimate text, remembered estimate) for the sigma control.
        For a blind model the estimate is shown for information only."""
        if not image_path:
            return gr.update(), "Upload a photo to estimate its noise level.", None
        array = load_image(image_path, "a noisy photo")
        if min(array.shape[:2]) < 3:
            raise gr.Error(f"The image is too small ({size_text(array)}); it needs at least 3x3 pixels.")
        from denoiser.inference import image_sigma

        sigma = image_sigma(array)
        note = f"Estimated noise level: **σ ≈ {sigma:.1f}** (0–255 scale) for this {describe(array)} image."
        if self.blind(model):
            note += " This model is blind and does not use it; the strength slider sets how much to remove."
        elif sigma > SIGMA_SLIDER_MAX:
            note += f" The slider stops at {SIGMA_SLIDER_MAX:g}; keep *auto* on to use the estimate."
        # The slider shows the estimate to 0.1; auto uses the exact value remembered here.
        return round(min(sigma, SIGMA_SLIDER_MAX), 1), note, {"path": str(image_path), "sigma": sigma}

    def denoise_photo(
        self, image_path, reference_path, sigma, auto, remembered=None, model=None, strength=1.0, progress=gr.Progress()
    ):
        """UI: (before/after slider, residual map, download file, metrics table, status).
        model: the chosen model's name (None: the photo default); a blind one uses `strength`
        instead of sigma / auto."""
        name = self.resolve(model)
        blind = self.blind(name)
        if blind:
            sigma = None
        elif auto:
            cached = remembered if isinstance(remembered, dict) and remembered.get("path") == str(image_path) else None
            sigma = cached["sigma"] if cached else None
        elif sigma is None:
            raise gr.Error("Set a noise level (σ) or tick auto.", print_exception=False)
        result = self.process(image_path, reference_path, sigma, progress, model=name, strength=strength if blind else 1.0)
        result.sigma_estimated = bool(auto) or blind  # a remembered estimate is still an estimate
        folder = result.folder
        before = save_png(result.noisy, folder / "before.png")
        after = save_png(result.denoised, folder / "after.png")
        residual, gain = residual_map(result.noisy, result.denoised, result.sigma)
        residual_path = save_png(residual, folder / "residual.png")
        which = f" with the {model_label(name)} model" if len(self.models) > 1 else ""
        if blind:
            how = (
                f"{which or ' with a blind model'} (it takes no σ) at strength {result.strength:.2f}; "
                f"the estimated noise level was σ ≈ {result.sigma:.1f}"
            )
        else:
            how = f"{which} with σ = {result.sigma:.1f} ({'estimated' if result.sigma_estimated else 'set by you'})"
        status = (
            f"Denoised a {describe(result.noisy)} image in {result.seconds:.2f} s{how}. "
            f"Residual map amplified ×{gain:.1f} around gray. The download is a lossless "
            f"{'16' if result.denoised.dtype == np.uint16 else '8'}-bit PNG at full resolution."
        )
        if result.reference is not None:
            m = result.metrics
            status += f" PSNR gain vs reference: {m['psnr_denoised'] - m['psnr_noisy']:+.2f} dB."
        return (before, after), residual_path, result.path, self.metrics_table(result.metrics), status

    def denoise_api(self, image, reference=None, sigma=None, progress=gr.Progress()):
        """/denoise: (image file, reference file or None, sigma 0-255 or None) -> (PNG path, metrics).
        Runs the photo default model (`real` when loaded; a blind model ignores sigma)."""
        return self.denoise_with_model(image, reference, sigma, None, 1.0, progress=progress)

    def denoise_with_model(self, image, reference=None, sigma=None, model=None, strength=1.0, progress=gr.Progress()):
        """/denoise_with_model: /denoise with a model name (None: /denoise's) and a strength in [0, 1]."""
        result = self.process(image, reference or None, sigma, progress, model=model, strength=strength)
        metrics = {k: (_finite(v) if k.startswith(("psnr", "ssim")) else v) for k, v in result.metrics.items()}
        return result.path, metrics

    # -- tab 2: synthetic noise -------------------------------------------------------

    def synthetic(
        self, example, clean_path, kind, sigma, peak, amount, beta1, beta2, fraction, seed, model=None, strength=1.0,
        progress=gr.Progress(),
    ):
        """UI: (clean, noisy, denoised image paths, metrics table, status). model: the chosen
        model's name (None: the synthetic default, `gaussian` when loaded); a blind one uses
        `strength` and no sigma."""
        from denoiser.noise import estimate_sigma

        name = self.resolve(model, self.synthetic_default)
        blind = self.blind(name)
        strength = _check_strength(strength) if blind else 1.0
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
        denoised = run_model(self.model_keys[name], noisy, None if blind else used, progress, strength)
        seconds = time.perf_counter() - start
        metrics = dict(zip(("psnr_noisy", "ssim_noisy"), score(clean, noisy)))
        metrics.update(zip(("psnr_denoised", "ssim_denoised"), score(clean, denoised)))

        folder = self.outputs.fresh()
        paths = [save_png(a, folder / f"{n}.png") for n, a in (("clean", clean), ("noisy", noisy), ("denoised", denoised))]
        text = ", ".join(f"{k} = {v:g}" for k, v in params.items())
        which = f" with the {model_label(name)} model" if len(self.models) > 1 else ""
        if blind:
            how = f"{which or ' with a blind model'} (it takes no σ) at strength {strength:.2f}"
        else:
            how = f"{which} with σ = {used:.1f} ({'the true value' if known else 'estimated from the noisy image'})"
        status = f"{kind} noise ({text}, seed {int(seed)}) on {source}; denoised in {seconds:.2f} s{how}."
        return (*paths, self.metrics_table(metrics, "clean"), status)

    # -- tab 3: compare -----------------------------------------------------------------

    def compare(self, image_path, reference_path, sigma=None, auto=None, progress=gr.Progress()):
        """UI: (gallery of outputs, table of PSNR / SSIM / seconds per method, note).
        sigma None or auto: estimate it. A method that fails is reported, the others still run."""
        import pandas as pd

        from denoiser.baselines import METHODS, classical_denoise
        from denoiser.inference import check_sigma, image_sigma

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
        sigma = image_sigma(noisy) if estimated else check_sigma(sigma)
        planes, alpha = split_alpha(to_float(noisy))
        if planes.ndim == 3 and planes.shape[2] == 1:
            planes = planes[..., 0]

        folder = self.outputs.fresh()
        gallery = [(save_png(noisy, folder / "00-noisy.png"), "noisy input")]
        rows = []
        if reference is not None:
            rows.append(["noisy input", *score(reference, noisy), None])
        # One row per loaded model ("autoencoder" when there is one), then the baselines.
        autoencoders = {"autoencoder": self.photo_default} if len(self.models) == 1 else {
            f"autoencoder ({name})": name for _, name in self.choices()
        }
        methods, failed = [*autoencoders, *METHODS], []
        for i, method in enumerate(methods, 1):
            if progress is not None:
                progress((i - 1, len(methods)), desc=f"Running {method}", unit="methods")
            start = time.perf_counter()
            try:
                if method in autoencoders:
                    name = autoencoders[method]
                    out = run_model(self.model_keys[name], noisy, None if self.blind(name) else sigma)
                else:
                    out = classical_denoise(planes, method, sigma)
            except Exception as err:  # noqa: BLE001 - one failing baseline must not sink the table
                log.warning("compare: %s failed: %s", method, err)
                failed.append(f"{method} failed ({type(err).__name__}: {_message(err)})")
                continue
            seconds = time.perf_counter() - start
            gallery.append((save_png(out, folder / f"{i:02d}-{_stem(method)}.png"), f"{method} ({seconds:.2f} s)"))
            scores = score(reference, out) if reference is not None else (None, None)
            rows.append([method, *scores, seconds])
        table = pd.DataFrame(rows, columns=["method", "PSNR (dB)", "SSIM", "seconds"])
        table = table.round({"PSNR (dB)": 2, "SSIM": 4, "seconds": 3}).replace([np.inf], "inf")
        if reference is None:
            table = table.drop(columns=["PSNR (dB)", "SSIM"])
            notes.append("Upload a clean reference to score the methods (PSNR / SSIM).")
        blind = [name for name in autoencoders.values() if self.blind(name)]
        who = "All methods" if not blind else "All methods except the blind " + ", ".join(blind) + " model"
        notes.insert(0, f"{who} used σ = {sigma:.1f} ({'estimated' if estimated else 'set by you'}).")
        if failed:
            notes.append("; ".join(failed) + ".")
        if alpha is not None:
            notes.append("Alpha is ignored by the classical methods and the scores.")
        return gallery, table, " ".join(notes)


# ----------------------------------------------------------------------------- the page


def load_models(device: str | None = None) -> dict:
    """{name: model} to serve: $DENOISER_MODEL alone when it is set, else every shipped model
    whose weights load (`real`, `gaussian`). Raises denoiser.ModelLoadError (the default
    model's message) when none loads."""
    from denoiser.hub import DEFAULT_MODEL, SHIPPED_MODELS, ModelLoadError, load_model

    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    source = (os.environ.get("DENOISER_MODEL") or "").strip()
    if source:
        model = load_model(source, device=device)
        return {_single_name(model): model}
    names = [n for n in MODEL_ORDER if n in SHIPPED_MODELS] + [n for n in SHIPPED_MODELS if n not in MODEL_ORDER]
    models, errors = {}, {}
    for name in names:
        try:
            models[name] = load_model(name, device=device)
        except ModelLoadError as err:
            errors[name] = err
    if not models:
        raise errors.get(DEFAULT_MODEL) or next(iter(errors.values()))
    from denoiser import hub

    for name, err in errors.items():  # absent weights are normal (a model ships later); broken ones are not
        present = (hub.SHIPPED_DIR / name / hub.WEIGHTS_NAME).is_file()
        (log.warning if present else log.info)("shipped model %r not loaded: %s", name, err)
    return models


def build_demo(models: Mapping | None = None, *, model=None) -> gr.Blocks:
    """The Gradio app.

    models: {name: model} to offer (or one model); `model=` gives a single one (kept for
    callers of the one-model app). With neither, load_models() loads $DENOISER_MODEL or every
    shipped model that loads, and raises denoiser.ModelLoadError when none does."""
    if _CONFIG_ERROR is not None:
        raise _CONFIG_ERROR
    if model is not None:
        if models is not None:
            raise TypeError("build_demo() takes models or model, not both")
        models = model
    app = DenoiserApp(load_models() if models is None else models)
    examples = example_files()
    hidden = {"api_visibility": "undocumented"}
    choices, several = app.choices(), len(app.models) > 1
    photo_blind, synthetic_blind = app.blind(app.photo_default), app.blind(app.synthetic_default)
    strength_label = "Strength (1: full denoising; lower keeps more texture and grain)"

    delete_cache = (_prune_interval(OUTPUT_TTL), OUTPUT_TTL)  # gradio's cache: served files older than the TTL
    with gr.Blocks(title="Photo denoiser", analytics_enabled=False, delete_cache=delete_cache) as demo:
        gr.Markdown("# Photo denoiser\nA denoising autoencoder for photos: upload a noisy photo and get it back cleaned, at full resolution.")
        gr.Markdown(app.model_markdown(), elem_id="model-info")

        with gr.Tab("Denoise a photo", id="denoise"):
            remembered = gr.State(None)
            with gr.Row():
                with gr.Column():
                    noisy_in = photo_input(label="Noisy photo (PNG, JPEG, TIFF...; 8 or 16-bit; gray, RGB or RGBA)", elem_id="noisy-input")
                    ref_in = photo_input(label="Clean reference (optional, same size): enables PSNR / SSIM", elem_id="reference-input")
                    model_in = gr.Radio(choices, value=app.photo_default, label="Model", visible=several, elem_id="model-choice")
                    gr.Markdown(app.model_help(), visible=several, elem_id="model-help")
                    with gr.Group():
                        auto = gr.Checkbox(value=True, label="auto: estimate the noise level from the photo", elem_id="sigma-auto", visible=not photo_blind)
                        sigma = gr.Slider(0, SIGMA_SLIDER_MAX, value=25, step=0.1, label="Strength: noise level σ (0–255 scale)", elem_id="sigma-slider", visible=not photo_blind)
                        strength = gr.Slider(0, 1, value=1.0, step=0.05, label=strength_label, elem_id="strength-slider", visible=photo_blind)
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
            noisy_in.change(user_errors(app.estimate), [noisy_in, model_in], [sigma, sigma_note, remembered], **hidden)
            model_in.change(app.controls, model_in, [auto, sigma, strength], queue=False, **hidden)
            model_in.change(user_errors(app.estimate), [noisy_in, model_in], [sigma, sigma_note, remembered], **hidden)
            sigma.input(lambda: False, None, auto, queue=False, **hidden)  # moving the slider overrides auto
            run.click(
                user_errors(app.denoise_photo),
                [noisy_in, ref_in, sigma, auto, remembered, model_in, strength],
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
                    syn_model = gr.Radio(choices, value=app.synthetic_default, label="Model", visible=several, elem_id="synthetic-model-choice")
                    gr.Markdown(app.model_help(), visible=several)
                    syn_strength = gr.Slider(0, 1, value=1.0, step=0.05, label=strength_label, elem_id="synthetic-strength", visible=synthetic_blind)
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
            syn_model.change(lambda name: app.controls(name)[2], syn_model, syn_strength, queue=False, **hidden)
            syn_run.click(
                user_errors(app.synthetic),
                [example, clean_in, kind, *sliders.values(), seed, syn_model, syn_strength],
                [syn_clean, syn_noisy, syn_denoised, syn_metrics, syn_status],
                **hidden,
            )

        with gr.Tab("Compare", id="compare"):
            gr.Markdown(
                f"The autoencoder{'s' if several else ''} against the classical denoisers (median, bilateral, non-local means, total "
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

        # The programmatic endpoints: /denoise(image, reference | None, sigma | None) -> (PNG path,
        # metrics) with the photo default model, and /denoise_with_model(..., model, strength).
        with gr.Row(visible=False):
            api_image = photo_input(label="image")
            api_reference = photo_input(label="reference (optional)")
            api_sigma = gr.Number(value=None, minimum=0, maximum=255, label="sigma (0-255; None: estimate)")
            api_model = gr.Dropdown([name for _, name in choices], value=None, label=f"model (None: {app.photo_default})")
            api_strength = gr.Number(value=1.0, minimum=0, maximum=1, label="strength (0-1; 1: full denoising)")
            api_result = gr.Image(label="denoised PNG", type="filepath", format="png")
            api_metrics = gr.JSON(label="metrics")
            api_button = gr.Button("denoise")
            api_model_button = gr.Button("denoise with model")
        api_button.click(
            user_errors(app.denoise_api),
            [api_image, api_reference, api_sigma],
            [api_result, api_metrics],
            api_name="denoise",
            api_description=(
                f"Denoise one image at full resolution with the {app.photo_default!r} model; returns the PNG and "
                "PSNR/SSIM against the optional reference. A blind model ignores sigma."
            ),
        )
        api_model_button.click(
            user_errors(app.denoise_with_model),
            [api_image, api_reference, api_sigma, api_model, api_strength],
            [api_result, api_metrics],
            api_name="denoise_with_model",
            api_description=(
                f"/denoise with a model ({', '.join(repr(n) for _, n in choices)}; None: {app.photo_default!r}) and a "
                "strength in [0, 1] (lower keeps more of the input)."
            ),
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
