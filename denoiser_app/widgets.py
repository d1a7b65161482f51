"""Gradio pieces shared by the page (ui.py) and the API (api.py)."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

HIDDEN = {"api_visibility": "undocumented"}  # UI events are not API endpoints
RAW = {"preprocess": False}  # inputs arrive as sent: image payloads unopened (see photo_input)


def photo_input(**kwargs) -> gr.Image:
    """An image upload. Every event that reads one runs with preprocess=False (RAW below) and gets
    the uploaded file's payload untouched: gradio's own preprocessing opens the file with Pillow
    first, so a file that is not an image would fail there, with a toast, red labels on every
    output and a traceback in the log, before our handler could clear the box and explain.
    denoiser.io.read_image does all the checking instead (format, HEIC, pixel limit, EXIF)."""
    defaults = {"type": "filepath", "image_mode": None, "format": "png", "sources": ["upload", "clipboard"]}
    return gr.Image(**(defaults | kwargs))


def file_path(payload) -> str | None:
    """The server path of an unprocessed image payload (a dict with 'path', or a path), or None."""
    if payload is None or payload == "":
        return None
    if isinstance(payload, dict):
        return payload.get("path") or None
    return str(getattr(payload, "path", payload))


def tiles(progress) -> Callable[[int, int], None]:
    """A gr.Progress as the (tiles done, tiles total) callback denoiser.denoise takes."""
    return lambda done, total: progress((done, total), desc="Denoising", unit="tiles")


def training(progress) -> Callable[[int, int], None]:
    """A gr.Progress as the (step, total) callback of "Adapt to this photo"'s fine-tuning."""
    return lambda done, total: progress((done, total), desc="Learning this photo's noise", unit="training steps")


def steps(progress, total: int) -> Callable[[str], None]:
    """A gr.Progress as the stage(text) callback DenoiserService.denoise takes: "2/5 steps | Measuring
    the noise" (gradio draws a description only beside a count)."""
    done = 0

    def stage(text: str) -> None:
        nonlocal done
        progress((done, total), desc=text, unit="steps")
        done += 1

    return stage
