"""User errors: one message a person can act on, never a traceback (neither on the page nor in
the server log); unexpected errors are logged with their traceback and shown in one line."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable

import gradio as gr

from denoiser.io import ImageReadError

log = logging.getLogger("denoiser.app")


def fail(message: str) -> gr.Error:
    """The error to raise for a user's mistake (gr.Error renders HTML, so the text is escaped)."""
    return gr.Error(html.escape(str(message), quote=False), print_exception=False)


def as_user_error(err: BaseException, where: str = "") -> gr.Error:
    """Any exception as the gr.Error a person sees; unexpected ones are logged with their traceback."""
    if isinstance(err, gr.Error):
        err.print_exception = False
        return err
    if isinstance(err, (ImageReadError, ValueError)):
        return fail(str(err))
    if isinstance(err, MemoryError):
        return fail("Out of memory: try a smaller image.")
    if type(err).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA)
        return fail("Out of GPU memory: try a smaller image.")
    log.error("unexpected error in %s", where or "the app", exc_info=err)
    return fail(f"Something went wrong ({type(err).__name__}: {err})")


def user_errors(fn: Callable) -> Callable:
    """Wrap fn so that every exception leaves it as a gr.Error made by as_user_error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - turned into a message
            raise as_user_error(err, getattr(fn, "__name__", "")) from None

    return wrapper
