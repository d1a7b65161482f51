"""Issue 22's page items in a real browser, at 1366 and 390 px: the result comes into view on a
phone, the download's format and camera details, and Compare's centre crop and plain names. Screenshots
go to $DENOISER_ARTIFACTS (default ./artifacts), as in test_browser.py."""

from __future__ import annotations

import re

from test_browser import DESKTOP, PHONE, RUN_TIMEOUT, browser, open_page, shoot, start_first_example, sync_api, url  # noqa: F401 - fixtures
from app_support import clean_image, noisy_image
from test_cli_formats import photo_file

from denoiser.io import write_image

IN_VIEW = """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
                             return r.top >= -2 && r.top < window.innerHeight / 2; }"""


def test_phone_brings_the_result_into_view(browser, url, sync_api):  # noqa: F811
    expect = sync_api.expect
    page = open_page(browser, url, PHONE)
    try:
        start_first_example(page, expect)
        assert not page.evaluate(IN_VIEW, "#result-slider")  # below the examples: out of sight
        expect(page.locator("#download")).to_be_visible(timeout=RUN_TIMEOUT)
        page.wait_for_function(f"() => ({IN_VIEW})('#result-slider')", timeout=10_000)
        expect(page.locator("#result-slider img").first).to_be_in_viewport()
        shoot(page, "phone-after-denoise.png", full_page=False)  # what the person sees when it finishes
    finally:
        page.close()


def test_desktop_download_format_and_camera_details(browser, url, sync_api, tmp_path):  # noqa: F811
    expect = sync_api.expect
    page = open_page(browser, url, DESKTOP)
    try:
        page.locator("#photo-input input[type=file]").set_input_files(str(photo_file(tmp_path / "IMG_0001.jpg")))
        note = page.locator("#photo-note")
        expect(note).to_contain_text("Noise: ", timeout=RUN_TIMEOUT)
        assert re.search(r"Noise: (light|moderate|heavy): ", note.inner_text())  # a word first, what it looks like
        assert "σ ≈" not in note.inner_text()  # the number folded away under Details, until asked for
        note.locator("summary").click()
        expect(note).to_contain_text("σ ≈")
        assert "GPS" in note.inner_text()  # it says the photo carries its location
        strip = page.locator("#strip-metadata")
        assert "GPS location" in strip.inner_text()
        page.locator("#denoise-button").click()
        download = page.locator("#download")
        expect(download).to_contain_text(re.compile(r"IMG_0001-\w+-s1\.00\s*\.png"), timeout=RUN_TIMEOUT)
        assert page.evaluate("window.scrollY") < 50  # beside the button already: the page stays put
        status = page.locator("#denoise-status").inner_text()
        assert status.startswith("Done in") and "lossless 8-bit PNG with its colour profile" in status

        page.locator("#save-as input").click()
        page.get_by_role("option", name=re.compile("^JPEG")).click()
        expect(download).to_contain_text(re.compile(r"IMG_0001-\w+-s1\.00\s*\.jpg"), timeout=RUN_TIMEOUT)
        expect(page.locator("#denoise-status")).to_contain_text("8-bit JPEG (quality 95)")
        strip.locator("input").check()
        expect(page.locator("#denoise-status")).to_contain_text("location removed", timeout=RUN_TIMEOUT)
        shoot(page, "desktop-save-as.png")
    finally:
        page.close()


def test_compare_shows_the_centre_scores_and_the_denoise_tabs_names(browser, url, sync_api, tmp_path):  # noqa: F811
    expect = sync_api.expect
    photo = tmp_path / "street.png"
    write_image(photo, noisy_image(clean_image(240, 320)))  # larger than the compared centre
    for viewport, name in ((DESKTOP, "desktop-compare-crops.png"), (PHONE, "phone-compare-crops.png")):
        page = open_page(browser, url, viewport)
        try:
            labels = [t.strip() for t in page.locator("#model-choice label").all_text_contents()]
            page.get_by_role("tab", name="Compare").click()
            description = page.locator("#compare-description").inner_text()
            assert "slow" not in description
            page.locator("#compare-input input[type=file]").set_input_files(str(photo))
            page.locator("#compare-button").click()
            table = page.locator("#compare-table")
            expect(table).to_contain_text("noise left", timeout=RUN_TIMEOUT)
            crops = page.locator("#compare-gallery img")
            expect(crops.first).to_be_visible(timeout=30_000)
            captions = [c.strip() for c in page.locator("#compare-gallery .caption-label").all_inner_texts()]
            assert captions[0] == "your photo" and crops.count() == len(captions) >= 8
            slow = page.locator("#compare-slow")  # the paper's network runs on request only
            shown = [label for label in labels if not (slow.is_visible() and label in slow.inner_text())]
            assert all(label in captions for label in shown), (labels, captions)  # the Denoise tab's names
            assert all(page.evaluate("(img) => img.naturalWidth == 192", c.element_handle()) for c in crops.all())
            headers = [h.strip() for h in table.locator("th").all_inner_texts()]
            assert headers[-1] == "seconds"
            last = table.locator("th").last.bounding_box()
            assert last["x"] + last["width"] <= viewport["width"]  # the time column is on screen, even on a phone
            shoot(page, name)
        finally:
            page.close()
