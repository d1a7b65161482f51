"""Issue 29's page items in a real browser, at 390 and 1366 px: the run's progress shows under the
button, in the viewport, while the button is disabled; Compare's methods get the level the Denoise
tab's model measures, and the page says which; moving Strength after a run marks the result; the
SSIM convention is stated. Screenshots go to $DENOISER_ARTIFACTS (default ./artifacts)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from app_support import clean_image, noisy_image
from test_browser import DESKTOP, PHONE, RUN_TIMEOUT, browser, open_page, shoot, sync_api, url  # noqa: F401 - fixtures

from denoiser.io import write_image

VIEWPORTS = [pytest.param(PHONE, id="390px"), pytest.param(DESKTOP, id="1366px")]
# True once the element shows a run's progress (gradio's status tracker with "n/m steps" or "tiles")
# inside the viewport, while the Denoise button is disabled.
def progress_in_view(pattern: str) -> str:
    """A page predicate: the button is disabled and the progress line under it matches the JS regex `pattern`
    and lies inside the viewport."""
    return """() => {
  const line = document.querySelector('#denoise-progress');
  const button = document.querySelector('#denoise-button');
  if (!line || !button || !button.disabled) return false;
  const r = line.getBoundingClientRect();
  return /%s/.test(line.innerText) && r.top >= 0 && r.bottom <= window.innerHeight;
}""" % pattern


PROGRESS_IN_VIEW = progress_in_view(r"\d+\/\d+ (steps|tiles)")

INNER_SCROLLERS = """(e) => [e, ...e.querySelectorAll('*')].filter(x => ['auto', 'scroll'].includes(getComputedStyle(x).overflowY)
                                 && x.scrollHeight > x.clientHeight + 2).map(x => x.className)"""


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory):
    """A 1600x1200 noisy photo: a run of several tiles and steps, long enough to watch."""
    clean = np.tile(clean_image(300, 400), (4, 4, 1))
    path = tmp_path_factory.mktemp("photos") / "street.png"
    write_image(path, noisy_image(clean, sigma=12))
    return path


def upload(page, expect, path) -> None:
    page.locator("#photo-input input[type=file]").set_input_files(str(path))
    expect(page.locator("#photo-note")).to_contain_text("Noise: ", timeout=RUN_TIMEOUT)


def denoise_watching(page, expect, in_view: str, shot: str):
    """Click Denoise, wait (frame by frame) until `in_view` holds, screenshot it, then wait for the download
    and the button to come back; returns the button."""
    button = page.locator("#denoise-button")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_function(in_view, timeout=RUN_TIMEOUT, polling="raf")
    shoot(page, shot, full_page=False)
    expect(page.locator("#download")).to_be_visible(timeout=RUN_TIMEOUT)
    expect(button).to_be_enabled()
    return button


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_progress_shows_under_the_button_while_it_runs(browser, url, sync_api, big_photo, viewport):  # noqa: F811
    expect = sync_api.expect
    page = open_page(browser, url, viewport)
    try:
        upload(page, expect, big_photo)
        button = denoise_watching(page, expect, PROGRESS_IN_VIEW, f"progress-{viewport['width']}.png")
        expect(button).to_have_text("Denoise")
        expect(page.locator("#denoise-progress")).to_contain_text(re.compile(r"Done in \d+\.\d s at strength 1\.00"))
    finally:
        page.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_moving_strength_after_a_run_marks_the_result(browser, url, sync_api, viewport):  # noqa: F811
    expect = sync_api.expect
    page = open_page(browser, url, viewport)
    try:
        page.locator("#photo-examples img").first.click()
        expect(page.locator("#photo-note")).to_contain_text("Noise: ", timeout=RUN_TIMEOUT)
        page.locator("#denoise-button").click()
        expect(page.locator("#download")).to_be_visible(timeout=RUN_TIMEOUT)
        number = page.locator("#strength input[type=number]")
        number.scroll_into_view_if_needed()
        number.fill("0.5")
        number.press("Enter")
        line = page.locator("#denoise-progress")
        expect(line).to_contain_text("The result shown is for strength 1.00: press Denoise to apply 0.50")
        expect(line).to_be_in_viewport()  # beside the slider that was moved
        expect(page.locator("#denoise-status")).to_contain_text("The result shown is for strength 1.00")
        shoot(page, f"strength-stale-{viewport['width']}.png", full_page=False)
        number.fill("1")
        number.press("Enter")
        expect(line).to_contain_text("Done in")  # back at the strength shown: nothing stale
    finally:
        page.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_compare_uses_the_denoise_tabs_level_and_states_ssim(browser, url, sync_api, tmp_path, viewport):  # noqa: F811
    expect = sync_api.expect
    photo = tmp_path / "street.png"
    write_image(photo, noisy_image(clean_image(240, 320), sigma=15))
    page = open_page(browser, url, viewport)
    try:
        upload(page, expect, photo)
        page.locator("#photo-note summary").click()  # the figures behind "Noise: moderate"
        level = re.search(r"σ ≈ (\d+\.\d)", page.locator("#photo-note").inner_text()).group(1)
        page.get_by_role("tab", name="Compare").click()
        page.locator("#compare-copy").click()
        expect(page.locator("#compare-input img")).to_be_visible(timeout=30_000)
        page.locator("#compare-button").click()
        expect(page.locator("#compare-progress")).to_contain_text(f"Compared at σ = {level}", timeout=RUN_TIMEOUT)
        note = page.locator("#compare-note").inner_text()
        assert f"σ = {level}" in note and "Every method was given" in note, (level, note)
        expect(page.locator("#compare-table")).to_contain_text("noise left", timeout=30_000)
        headers = [h.strip() for h in page.locator("#compare-table th").all_inner_texts()]
        assert headers == ["method", "took out", "noise left", "seconds"], headers
        for cell in page.locator("#compare-table td, #compare-table th").all():  # no number or header broken mid-word
            assert page.evaluate("(e) => e.innerText.trim().split(/\\s+/).length > 1 || "
                                 "e.getBoundingClientRect().height < 2.2 * parseFloat(getComputedStyle(e).lineHeight || 20)",
                                 cell.element_handle()), cell.inner_text()
        for box in ("#compare-table", "#compare-gallery"):  # nothing scrolls inside itself: the page scrolls
            assert page.evaluate(INNER_SCROLLERS, page.locator(box).element_handle()) == [], box
        for item in page.locator("#compare-gallery .thumbnail-item").all():  # captions under the pictures, not on them
            picture, caption = item.locator("img").bounding_box(), item.locator(".caption-label").bounding_box()
            assert caption["y"] >= picture["y"] + picture["height"] - 1, (picture, caption)
        ssim = page.locator("#compare-ssim-convention")
        expect(ssim).to_be_visible()
        text = ssim.inner_text()
        assert "Wang et al. 2004" in text and "gaussian_weights=True" in text and "7×7" in text
        shoot(page, f"compare-level-{viewport['width']}.png")
    finally:
        page.close()
