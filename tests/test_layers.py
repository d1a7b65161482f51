"""The layering, as import-linter checks it from pyproject.toml's contracts: the core library
imports neither the trainer, the app nor the benchmarks; no import cycles inside a package."""

import os
import subprocess
import sys

import pytest

from app_support import ROOT

pytest.importorskip("importlinter", reason="the layering check needs import-linter (the dev extra)")


def test_import_contracts_hold():
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the clone's packages, not an installed copy
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout  # every contract ran
