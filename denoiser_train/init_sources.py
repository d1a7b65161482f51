"""What `--init` names, resolved to files. A source is a shipped name (`gaussian`: the weights in this
copy of the package, whatever version that is now), a folder, a Hub id (`owner/name@revision`), or
`NAME@REVISION`: the shipped weights as they were at a git revision of this repository, read with
`git show REV:denoiser/weights/NAME/...` into a temporary folder. A stage's command that says
`--init gaussian@9304e11` rebuilds what shipped even after `gaussian` has moved on."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from denoiser.hub import CONFIG_NAME, SHIPPED_DIR, WEIGHTS_NAME, load_model, shipped_folder, weights_folder

REPO = SHIPPED_DIR.parents[1]  # the clone the package runs from (`git show` needs one)


def at_revision(source: str) -> tuple[str, str] | None:
    """(NAME, REVISION) for `NAME@REVISION` with a shipped or reference NAME; None for anything else
    (a folder that exists is a folder, even with an @ in its name; `owner/name@rev` is a Hub id)."""
    name, sep, revision = source.partition("@")
    if not sep or not revision or shipped_folder(name) is None or Path(source).exists():
        return None
    return name, revision


@contextlib.contextmanager
def resolved(source: str) -> Iterator[str]:
    """A source `load_model` can read: `NAME@REVISION` becomes a temporary folder holding that
    revision's config.json and model.safetensors (removed on exit); any other source is itself."""
    pinned = at_revision(source)
    if pinned is None:
        yield source
        return
    name, revision = pinned
    with tempfile.TemporaryDirectory(prefix=f"init-{name}-") as folder:
        for file in (CONFIG_NAME, WEIGHTS_NAME):
            (Path(folder) / file).write_bytes(_git_show(source, revision, f"denoiser/weights/{name}/{file}"))
        yield folder


def _git_show(source: str, revision: str, path: str) -> bytes:
    try:
        result = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:{path}"], capture_output=True, timeout=120)
    except OSError as err:
        raise ValueError(f"--init {source}: git is needed to read a revision ({err})") from None
    if result.returncode != 0:
        why = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["git show failed"]
        raise ValueError(f"--init {source}: no {path} at revision {revision!r} in {REPO} ({why[0]})")
    return result.stdout


def load_source(source: str):
    """The model a source names (see `resolved`) and the SHA-256 of its model.safetensors (None for a
    Hub id, whose revision pins it)."""
    with resolved(source) as path:
        return load_model(path), weights_sha256(path)


def weights_sha256(source: str) -> str | None:
    folder = shipped_folder(source) or weights_folder(Path(source).expanduser())
    weights = folder / WEIGHTS_NAME
    return hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None
