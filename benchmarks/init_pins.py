"""Which files a training run started from, as a card states them: each `--init` source with the
SHA-256 of its model.safetensors (RUN/init_sources.json), and a bare shipped name pinned to the git
revision whose weights have that SHA-256 (`gaussian` -> `gaussian@9304e11…`), so the card's command
rebuilds what shipped after the name has moved on."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path

from denoiser.hub import WEIGHTS_NAME, shipped_folder
from denoiser_train.init_sources import REPO, at_revision


def init_sources(folder: Path, config: dict) -> dict[str, str | None]:
    """{source as the command should give it: SHA-256 or None} for the run whose files are in `folder`."""
    recorded = json.loads((folder / "init_sources.json").read_text()) if (folder / "init_sources.json").is_file() else {}
    given = config.get("init") or []
    given = [given] if isinstance(given, str) else given
    return {pin(source, recorded.get(source)): recorded.get(source) for source in given}


def pin(source: str, sha256: str | None) -> str:
    """`NAME@REVISION` for a bare shipped name whose recorded file is in this repo's history; else as given."""
    if sha256 is None or at_revision(source) or shipped_folder(source) is None:
        return source
    revision = revision_with_sha256(source, sha256)
    return f"{source}@{revision[:12]}" if revision else source


@functools.lru_cache(maxsize=None)
def revision_with_sha256(name: str, sha256: str) -> str | None:
    """The newest commit whose denoiser/weights/NAME/model.safetensors has this SHA-256, if any."""
    path = f"denoiser/weights/{name}/{WEIGHTS_NAME}"
    log = _git("log", "--format=%H", "--", path)
    for revision in (log or b"").decode().split():
        blob = _git("show", f"{revision}:{path}")
        if blob is not None and hashlib.sha256(blob).hexdigest() == sha256:
            return revision
    return None


def _git(*args: str) -> bytes | None:
    try:
        result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None
