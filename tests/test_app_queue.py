"""A Denoise is not queued behind another person's Compare: the page's runs have their own
concurrency groups (gradio's concurrency_id), each with Settings.concurrency slots."""

from __future__ import annotations

import threading

import pytest
from app_support import clean_image, noisy_image, serve, tiny_model

from denoiser.io import write_image
from denoiser_app import Settings, build_demo
from denoiser_app import compare as compare_mod


@pytest.fixture
def app(monkeypatch):
    """The app with a Compare that holds its slot until the test lets it go."""
    entered, release = threading.Event(), threading.Event()
    real = compare_mod.compare

    def held(*args, **kwargs):
        entered.set()
        release.wait(timeout=60)
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_mod, "compare", held)
    blocks = build_demo({"photo": tiny_model("photo"), "gaussian": tiny_model("gaussian")}, settings=Settings())
    server = serve(blocks)
    url = next(server)
    yield url, entered, release
    release.set()
    next(server, None)


def test_a_denoise_runs_while_a_compare_holds_its_slot(app, tmp_path):
    from gradio_client import Client, handle_file

    url, entered, release = app
    photo = tmp_path / "photo.png"
    write_image(photo, noisy_image(clean_image()))
    client = Client(url, verbose=False, download_files=str(tmp_path / "dl"))
    try:
        comparing = client.submit(handle_file(str(photo)), None, 25, True, False, api_name="/compare_run")
        assert entered.wait(timeout=60), "the compare never started"
        run_inputs = (None, 1.0, "photo", 25, True, "png", False, False)  # ..., strip metadata, adapt to the photo
        for endpoint, args in (("/denoise", (None, None)), ("/denoise_run", run_inputs)):
            job = client.submit(handle_file(str(photo)), *args, api_name=endpoint)
            job.result(timeout=60)  # TimeoutError if it waited behind the held compare
            assert not comparing.done()
        release.set()
        comparing.result(timeout=60)
    finally:
        release.set()
        client.close()
