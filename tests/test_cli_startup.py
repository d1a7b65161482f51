"""`denoiser --help` and the mistakes a person makes first (a mistyped path, an output that cannot be
written) answer at once: torch (seconds to import on a busy machine) loads only once a model is needed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from app_support import ROOT

PROBE = """
import json, sys
from denoiser.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def run_cli(*args: str) -> tuple[dict, str]:
    """(the exit code and whether torch was imported, stderr) of the command line in a fresh Python."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.parametrize("args", [["--help"], ["denoise", "--help"], ["estimate", "--help"]])
def test_help_does_not_import_torch(args):
    result, _ = run_cli(*args)
    assert result == {"code": 0, "torch": False}


def test_argument_errors_do_not_import_torch(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"not read before the output is checked")
    cases = [
        (["denoise", str(tmp_path / "missing.png"), "-o", str(tmp_path / "out.png")], "no such file"),
        (["denoise", str(photo), "-o", str(photo / "out.png")], "cannot write"),  # a file where a folder must be
        (["denoise", str(photo), "-o", str(tmp_path / "out.png"), "--quality", "0"], "--quality"),
        (["denoise", "-o", str(tmp_path / "out")], "name images"),
    ]
    for args, message in cases:
        result, stderr = run_cli(*args)
        assert result == {"code": 2, "torch": False}, (args, stderr)
        assert message in stderr and stderr.count("error:") == 1, stderr


def test_a_model_still_loads_torch(tmp_path, tiny_model_dir):
    """The probe would pass on a command line that never loads torch at all: here it must."""
    from denoiser.io import write_image
    from app_support import clean_image

    write_image(tmp_path / "in.png", clean_image())
    result, stderr = run_cli("denoise", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--model",
                             str(tiny_model_dir))
    assert result == {"code": 0, "torch": True}, stderr
