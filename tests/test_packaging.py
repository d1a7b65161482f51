"""`pip install .`: the wheel holds the library with its shipped weights, the trainer (as
`denoiser_train`), the app and the `denoiser` command, pins torch, claims no generic top-level name
(`train`, `benchmarks`), and the README's Python snippet and the installed trainer run from any folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from app_support import ROOT, clean_image, noisy_image

from denoiser.hub import SHIPPED_DIR, SHIPPED_MODELS, WEIGHTS_NAME
from denoiser.io import read_image, write_image


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip would install, built offline from a copy of the tree (setuptools builds in place)."""
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools")
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    for name in ("denoiser", "denoiser_app", "denoiser_train", "train", "benchmarks"):  # all of it: the build picks
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(work / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (built,) = (work / "dist").glob("denoiser-*.whl")
    return built


def test_wheel_holds_packages_weights_and_command(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        metadata = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    for module in ("denoiser/cli.py", "denoiser_app/imageops.py", "denoiser_train/loop.py", "denoiser_app/ui.py",
                   "denoiser_app/service.py"):
        assert module in names, module
    shipped = [n for n in SHIPPED_MODELS if (SHIPPED_DIR / n / WEIGHTS_NAME).is_file()]
    assert shipped, "this checkout ships no weights"
    for name in shipped:
        assert f"denoiser/weights/{name}/{WEIGHTS_NAME}" in names and f"denoiser/weights/{name}/config.json" in names
    assert "denoiser/heldout/imagenet_val.json" in names  # held_out() recognises ImageNet-val in an install too
    assert re.search(r"^denoiser = denoiser\.cli:main$", entry_points, re.M)
    assert "Requires-Dist: torch==2.13.0" in metadata  # exact: a CPU wheel installed first is kept
    assert {"app", "train", "dev"} <= set(re.findall(r"^Provides-Extra: (\w+)$", metadata, re.M))
    assert not any("tests/" in n or n.startswith("app.py") for n in names)


def test_wheel_claims_only_our_own_top_level_names(wheel):
    """site-packages is shared: a top-level `train` (the clone's shim) or `benchmarks` would shadow a
    user's own module of that name."""
    with zipfile.ZipFile(wheel) as z:
        top = {n.split("/")[0] for n in z.namelist() if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"denoiser", "denoiser_app", "denoiser_train"}


def test_installed_trainer_runs_from_any_folder(wheel, tmp_path):
    site, work = tmp_path / "site", tmp_path / "work"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    code = "import denoiser_train.loop as m; print('FROM', m.__file__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"FROM {site}" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "denoiser_train", "--help"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "--resume" in proc.stdout, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "train", "--help"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "No module named train" in proc.stderr  # the clone's shim is not installed


def _readme_python_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_snippet_runs_from_any_folder(wheel, tmp_path):
    site, work = tmp_path / "site", tmp_path / "work"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)  # what `pip install .` puts in site-packages
    work.mkdir()
    noisy = noisy_image(clean_image(64, 96))
    write_image(work / "noisy.png", noisy)
    env = dict(os.environ, PYTHONPATH=str(site), HF_HUB_OFFLINE="1")
    env.pop("DENOISER_MODEL", None)
    snippet = _readme_python_snippet() + "\nimport denoiser as _d; print('FROM', _d.__file__)\n"
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"FROM {site}" in proc.stdout  # the installed copy, not this checkout
    assert "σ ≈" in proc.stdout
    out = read_image(work / "clean.png")
    assert out.shape == noisy.shape and out.dtype == noisy.dtype
