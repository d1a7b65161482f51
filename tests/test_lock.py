"""The locked versions: requirements.lock (what CI installs), requirements.txt (what the Hugging Face
Space installs) and pyproject.toml (the ranges both are locked from) agree. `bash tools/lock.sh`
writes both files from pyproject.toml; these tests catch a hand edit or a lock left stale."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)
REFRESH = "run `bash tools/lock.sh` and commit what it changes"


def pins(text: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


LOCK = pins((ROOT / "requirements.lock").read_text())
SPACE = pins((ROOT / "requirements.txt").read_text())
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_space_installs_the_locked_versions():
    differ = {n: (SPACE[n], LOCK[n]) for n in SPACE.keys() & LOCK.keys() if SPACE[n] != LOCK[n]}
    assert not differ, f"requirements.txt vs requirements.lock: {differ}; {REFRESH}"
    unlocked = sorted(SPACE.keys() - LOCK.keys() - {"torch"})
    assert not unlocked, f"in requirements.txt, not in requirements.lock: {unlocked}; {REFRESH}"


def test_torch_has_one_pin_which_ci_installs_first():
    torch = next(Requirement(r) for r in PROJECT["dependencies"] if Requirement(r).name == "torch")
    version = str(torch.specifier).removeprefix("==")
    assert str(torch.specifier) == f"=={version}" and SPACE["torch"] == version
    # the lock holds what torch's CPU build needs, not PyPI's CUDA build (nvidia-*, triton)
    assert "torch" not in LOCK and not [n for n in LOCK if n == "triton" or n.startswith("nvidia-")]
    assert f"pip install -q --no-deps torch=={version}\n" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("file, extras", [("requirements.lock", ("app", "train", "dev")),
                                          ("requirements.txt", ("app", "train"))])
def test_every_dependency_in_pyproject_is_pinned_within_its_range(file, extras):
    pinned = LOCK if file == "requirements.lock" else SPACE
    wanted = PROJECT["dependencies"] + [r for extra in extras for r in PROJECT["optional-dependencies"][extra]]
    for req in map(Requirement, wanted):
        name = canonicalize_name(req.name)
        if name == PROJECT["name"] or (name == "torch" and pinned is LOCK):  # denoiser[app,train]; torch: above
            continue
        assert name in pinned, f"{req} is in pyproject.toml but not in {file}: {REFRESH}"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"{file}: {name}=={pinned[name]} is outside {req}: {REFRESH}"


def test_the_space_runs_the_locked_gradio():
    # the Space installs gradio from the README's front matter (sdk_version), before requirements.txt
    sdk = re.search(r"^sdk_version: (\S+)$", (ROOT / "README.md").read_text(), re.M)
    assert sdk and sdk[1] == LOCK["gradio"], "README's sdk_version is not the locked gradio"
