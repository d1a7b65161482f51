"""The photo denoiser's web app (gradio): `python app.py` or `python -m denoiser_app`.

    settings.py    the environment, read once into a frozen Settings
    models.py      loading the models, their plain-language names and kinds, running them (GPU-wrapped)
    outputs.py     result files: per-request folders, unique stamps in every format, screen-sized views, expiry
    cache.py       the last few decoded uploads and noise estimates (one decode, one estimate per photo)
    errors.py      user errors: one message, never a traceback
    service.py     what the Denoise tab and the API do, as plain functions (tested directly)
    compare.py     the Compare tab's work;  synthetic.py: the "Add noise" tab's work
    examples.py    example photos with realistic camera noise, made at start-up
    widgets.py     gradio pieces the page and the API share (the upload, raw payloads)
    ui.py          the page, one function per tab;  api.py: the /denoise endpoints
"""

from __future__ import annotations

import sys
import time
import warnings

import gradio as gr

from .models import Models, load_models
from .service import DenoiserService
from .settings import Settings
from .ui import CSS, build_blocks

__all__ = ["DenoiserService", "Models", "Settings", "build_demo", "launch", "main"]


def build_demo(models=None, *, settings: Settings | None = None) -> gr.Blocks:
    """The app. models: {name: model} or one model; None loads $DENOISER_MODEL, else every shipped
    model that loads (denoiser.ModelLoadError when none does). settings: None reads the environment
    (ValueError naming a bad variable)."""
    settings = Settings.from_env() if settings is None else settings
    if models is None:
        import torch

        models = load_models(settings.model, "cuda" if torch.cuda.is_available() else "cpu")
    return build_blocks(DenoiserService(Models(models), settings))


def launch(demo: gr.Blocks, **kwargs):
    """Queue and launch a demo with its settings' limits and the page's CSS; kwargs go to launch()."""
    from PIL import Image

    settings = demo.service.settings
    # Pillow warns on images over its own limit (89 MP) as it opens them; the app then applies
    # settings.max_pixels and refuses with a message, so in the server log the warning only
    # repeats the refusal (and for a larger configured limit it is not a problem at all).
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    return demo.launch(**({"show_error": True, "max_file_size": settings.max_file_size, "css": CSS} | kwargs))


def main() -> int:
    """Start the app, saying on stdout what it is doing (a start takes tens of seconds on a busy
    2-core machine); a configuration or model error prints one `error:` line and returns 1."""
    from denoiser.hub import ModelLoadError

    began = time.perf_counter()
    print("denoiser app: loading the models and making the example photos…", flush=True)
    try:
        demo = build_demo()
    except (ModelLoadError, ValueError) as err:
        print(f"error: could not start the denoiser app: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    print(f"denoiser app: models and examples ready in {time.perf_counter() - began:.1f} s; starting the server",
          flush=True)
    launch(demo)
    return 0
