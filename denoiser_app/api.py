"""The programmatic endpoints, for gradio_client and raw HTTP callers.

    /denoise(image, reference | None, sigma | None) -> (PNG path, metrics)   the photo default model
    /denoise_with_model(image, reference, sigma, model | None, strength)     any loaded model

(A 4th input on /denoise would be fine for gradio_client, which fills trailing inputs that have
defaults, but gradio's server refuses a call with fewer values than inputs, so a raw HTTP caller
sending 3 values would break; hence a second endpoint.)
"""

from __future__ import annotations

import gradio as gr

from .errors import user_errors
from .service import DenoiserService
from .widgets import RAW, file_path, photo_input, tiles


def api_endpoints(service: DenoiserService) -> None:
    """Hidden components and the two named endpoints (errors reach the caller as gr.Error). They share the
    page's Denoise concurrency group ("denoise"): denoises take turns with each other, never with a Compare."""
    models = service.models
    names = models.names()
    with gr.Row(visible=False):
        image = photo_input(label="image")
        reference = photo_input(label="reference (optional)")
        sigma = gr.Number(value=None, minimum=0, maximum=255, label="sigma (0-255; None: the model's estimate)")
        model = gr.Dropdown(names, value=None, label=f"model (None: {models.photo_default})")
        strength = gr.Number(value=1.0, minimum=0, maximum=4, label="strength (0-4; 1: the noise level as estimated or given)")
        result = gr.Image(label="denoised PNG", type="filepath", format="png")
        metrics = gr.JSON(label="metrics")
        button, model_button = gr.Button("denoise"), gr.Button("denoise with model")

    @user_errors
    def denoise(image, reference=None, sigma=None, progress=gr.Progress()):
        return service.api(file_path(image), file_path(reference), sigma, None, 1.0, tiles(progress))

    @user_errors
    def denoise_with_model(image, reference=None, sigma=None, model=None, strength=1.0, progress=gr.Progress()):
        return service.api(file_path(image), file_path(reference), sigma, model, strength, tiles(progress))

    button.click(denoise, [image, reference, sigma], [result, metrics], api_name="denoise", concurrency_id="denoise", **RAW, api_description=(
        f"Denoise one image at full resolution with the {models.photo_default!r} model; returns the PNG and "
        "metrics (PSNR/SSIM against the optional reference, the noise level used). A blind model ignores sigma."))
    model_button.click(denoise_with_model, [image, reference, sigma, model, strength], [result, metrics],
                       api_name="denoise_with_model", concurrency_id="denoise", **RAW, api_description=(
        f"/denoise with a model ({', '.join(map(repr, names))}; None: {models.photo_default!r}) and a strength "
        "in [0, 4] that scales the noise level (lower keeps more texture)."))
