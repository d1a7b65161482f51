"""tools/onnx_speed, the command whose output the README's ONNX speed numbers are, on a tiny model."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from tools.onnx_speed import main  # noqa: E402


def test_times_every_runtime_and_checks_they_agree(tiny_model_dir, capsys):
    assert main(["--model", str(tiny_model_dir), "--size", "64", "--threads", "1", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    for graph, runtime in (("denoiser", "pytorch (NCHW)"), ("denoiser", "pytorch (channels_last)"),
                           ("denoiser", "onnxruntime (NCHW)"), ("denoise()", "pytorch (channels_last)"),
                           ("denoise()", "onnxruntime (NCHW)")):
        assert re.search(rf"{re.escape(graph)}\s+{re.escape(runtime)}\s+[\d.]+\s+[\d.]+\s+[\d.]+", out), out
    assert re.search(r"onnxruntime takes [\d.]+x the time of pytorch", out)
    [difference] = re.findall(r"largest difference between the runtimes' outputs (\S+)", out)
    assert float(difference) < 1e-4
    [(share, most)] = re.findall(r"denoise\(\): uint8 values that differ (\S+), by at most (\d+)", out)
    assert float(share) < 1e-2 and int(most) <= 1
