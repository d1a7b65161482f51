"""benchmarks.provenance in a throwaway git repository: a card says which code files were changed
when its numbers were measured, and names only the code that measures."""

import shutil
import subprocess

import pytest

import benchmarks.provenance as provenance

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(root, *args):
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_uncommitted_names_the_changed_code_files_and_nothing_else(tmp_path, monkeypatch):
    for path in ("denoiser/model.py", "denoiser/io.py", "benchmarks/report.py", "README.md"):
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text("x = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "start")
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    assert provenance.provenance([])["uncommitted"] == []  # a clean tree
    (tmp_path / "denoiser/model.py").write_text("x = 2\n")  # a tracked code file changed
    (tmp_path / "benchmarks/timing.py").write_text("y = 1\n")  # a new code file, not yet added
    (tmp_path / "README.md").write_text("changed\n")  # not code that measures: not listed
    prov = provenance.provenance([])
    assert prov["uncommitted"] == ["benchmarks/timing.py", "denoiser/model.py"]
    assert prov["revision"] and len(prov["revision"]) == 40
    lines = "\n".join(provenance.provenance_lines({"provenance": prov}))
    assert "with uncommitted changes to `benchmarks/timing.py`, `denoiser/model.py`" in lines
