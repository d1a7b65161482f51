"""Issue 27's "Adapt to this photo (slower)" in a real browser, at 390 and 1366 px: the option sits beside the
Denoise button, and while the model learns the photo's noise the progress ("9/1.5k training steps") shows under the
button, in the viewport, with the button disabled; the status then says what adapting did. Screenshots go to
$DENOISER_ARTIFACTS (default ./artifacts)."""

from __future__ import annotations

import re

import pytest
from app_support import serve
from test_browser import DESKTOP, PHONE, browser, open_page, sync_api  # noqa: F401 - fixtures
from test_browser_progress import denoise_watching, progress_in_view, upload

from denoiser.io import write_image

ADAPTING_IN_VIEW = progress_in_view(r"^(?=[\s\S]*Learning this photo's noise)(?=[\s\S]*\d+\/[\d.]+k? training steps)")


@pytest.fixture(scope="module")
def adapt_url(sync_api):  # noqa: F811
    """The app on the shipped photo model, adapting for 0.1 minute (the steps, not the quality, are tested)."""
    from denoiser.hub import ModelLoadError, load_model
    from denoiser_app import Settings, build_demo

    try:
        photo = load_model("photo")
    except ModelLoadError as err:
        pytest.skip(f"the shipped photo model is not in this checkout: {err}")
    yield from serve(build_demo({"photo": photo}, settings=Settings(adapt_minutes=0.1)))


@pytest.fixture(scope="module")
def night_photo(tmp_path_factory):
    import numpy as np

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:192, :256] / 192
    clean = np.stack([0.3 + 0.2 * xx, 0.45 + 0.1 * yy, 0.35 + 0.2 * xx * yy], axis=-1)
    path = tmp_path_factory.mktemp("photos") / "night.png"
    write_image(path, np.rint(np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1) * 255).astype(np.uint8))
    return path


@pytest.mark.parametrize("viewport", [pytest.param(PHONE, id="390px"), pytest.param(DESKTOP, id="1366px")])
def test_adapting_shows_its_progress_under_the_button(browser, adapt_url, sync_api, night_photo, viewport):  # noqa: F811
    expect = sync_api.expect
    page = open_page(browser, adapt_url, viewport)
    try:
        upload(page, expect, night_photo)
        option = page.locator("#adapt-photo")
        expect(option).to_contain_text("Adapt to this photo first (slower: up to 0.1 min)")
        option.locator("input[type=checkbox]").check()
        denoise_watching(page, expect, ADAPTING_IN_VIEW, f"adapting-{viewport['width']}.png")
        expect(page.locator("#denoise-status")).to_contain_text(
            re.compile(r"learned this photo's own noise for \d+\.\d min \(\d+ of \d+ training steps\)"))
    finally:
        page.close()
