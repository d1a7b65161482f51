"""`python -m tools.photo_adapt_score`: per-photo adapt scored against references, written to JSON and the README."""

from __future__ import annotations

import json

import numpy as np
import pytest

from denoiser.io import write_image


def test_scores_each_photo_before_and_after_adapting_and_writes_the_table(tmp_path):
    from denoiser.hub import ModelLoadError, load_model

    try:
        load_model("photo")
    except ModelLoadError as err:
        pytest.skip(f"the shipped photo model is not in this checkout: {err}")
    from tools.photo_adapt_score import MARKERS, main

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :160] / 128
    clean = np.stack([0.3 + 0.2 * xx, 0.5 + 0.1 * yy, 0.4 + 0.1 * xx * yy], axis=-1)
    noisy = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1)
    for folder, image in (("noisy", noisy), ("gt", clean)):
        write_image(tmp_path / "pairs" / folder / "a.png", np.rint(image * 255).astype(np.uint8))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{MARKERS[0]}\nold\n{MARKERS[1]}\nafter\n")

    assert main([str(tmp_path / "pairs"), "--minutes", "0.02", "--threads", "1", "--json", str(tmp_path / "r.json"),
                 "--readme", str(readme)]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [r["photo"] for r in rows] == ["a.png"] and rows[0]["steps"] > 0
    assert rows[0]["psnr_before"] > 20 and rows[0]["psnr_after"] > 20  # scored against the reference
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("after\n")
    assert "python -m tools.photo_adapt_score" in text and f"| a.png | 0.02 | {rows[0]['steps']} |" in text
    assert "**mean of 1**" in text
