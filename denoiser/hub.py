"""Saving and loading weights folders (config.json + model.safetensors), locally or from the Hub.

The folder layout is the one huggingface_hub's `PyTorchModelHubMixin.save_pretrained` writes,
so our repos look like any PyTorch model repo. Loading is ours rather than the mixin's because
the mixin silently drops unknown config keys, defaults to strict=False and falls back to a
pickled pytorch_model.bin; here only safetensors are read and every mismatch is an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .files import atomic_write
from .model import ModelConfig, build_model

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
SHIPPED_DIR = Path(__file__).parent / "weights"
SHIPPED_MODELS = ("photo", "gaussian")  # short names of folders inside SHIPPED_DIR
# photo: for real photos (camera, phone and JPEG noise and white noise); estimates its own per-pixel
#        noise map, which `strength` scales;
# gaussian: white Gaussian noise of a known or estimated sigma (0-75), the benchmark model.
# The original paper's autoencoder, kept for comparison (the Gaussian card's seed rows, the app's
# Compare tab): fp16 safetensors, widened to fp32 on load. `seed` is trained with our recipe,
# `seed-paper` with the paper's (MSE, Adam 1e-4), under the same budget.
REFERENCE_MODELS = ("seed", "seed-paper")
DEFAULT_MODEL = "photo"
# Names that were shipped before and now mean another model (loading one says so).
RENAMED_MODELS = {"real": "photo"}  # real (blind camera-noise model, v2) was replaced by photo


class ModelLoadError(RuntimeError):
    """Weights that cannot be loaded as asked; the message names the file and the problem."""


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def save_model(model: torch.nn.Module, folder: str | os.PathLike) -> Path:
    """Write config.json and model.safetensors into `folder` (each atomically); returns the folder."""
    from safetensors.torch import save_file

    model = unwrap(model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    atomic_write(folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(model.config.to_json() + "\n"))
    return folder


def read_config(path: str | os.PathLike) -> ModelConfig:
    """Parse a config.json strictly: unknown keys, an unknown architecture or bad values raise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing; a weights folder needs {CONFIG_NAME} and {WEIGHTS_NAME}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelLoadError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    try:
        return ModelConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ModelLoadError(f"{path}: {err}") from None


def weights_folder(folder: str | os.PathLike) -> Path:
    """The weights folder a path names: itself, or for a training run's folder (`python -m train --out RUN`,
    `denoiser adapt -o RUN`) the model it exported, RUN/model/."""
    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file() and (folder / "model" / CONFIG_NAME).is_file():
        return folder / "model"
    return folder


def load_folder(folder: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build the model a weights folder (or a run's, see `weights_folder`) describes and load its safetensors
    strictly (eval mode)."""
    folder = weights_folder(folder)
    return _load(read_config(folder / CONFIG_NAME), folder / WEIGHTS_NAME, device, name=str(folder))


def _load(config: ModelConfig, weights: Path, device, name: str) -> torch.nn.Module:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not weights.is_file():
        raise ModelLoadError(f"{weights}: missing; a weights folder needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(f"{weights}: truncated or not a safetensors file ({err})") from None
    model = build_model(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0:3]
        raise ModelLoadError(f"{weights}: the weights do not match config.json ({' '.join(first)})") from None
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise ModelLoadError(f"{weights}: the weights contain NaN or infinite values")
    model.name = name
    return model.to(device).eval()


HUB_PREFIX = "hf://"  # `hf://owner/name` always means the Hub, even where ./owner/name could be a folder


def _split_revision(source: str, revision: str | None) -> tuple[str, str | None]:
    if "@" in source:
        source, _, pinned = source.partition("@")
        if not pinned:
            raise ModelLoadError(f"{source}@: the revision after '@' is empty")
        if revision is not None and revision != pinned:
            raise ValueError(f"two revisions given: {pinned!r} in the source and {revision!r}")
        revision = pinned
    return source, revision


def shipped_folder(name: str) -> Path | None:
    """The package's weights folder for a shipped or reference model name, else None."""
    return SHIPPED_DIR / name if name in SHIPPED_MODELS + REFERENCE_MODELS else None


def load_model(
    source: str | os.PathLike | None = None,
    revision: str | None = None,
    device: str | torch.device = "cpu",
    endpoint: str | None = None,
    token: str | None = None,
) -> torch.nn.Module:
    """Load a denoiser from a shipped name (`gaussian`), a local folder or a Hub repo id.

    source None means $DENOISER_MODEL, else the shipped default. A repo id may carry a revision
    as `owner/name@revision`, and `hf://owner/name` forces the Hub when a local folder `owner`
    exists; a given revision pins the download to it. Only safetensors are
    read. Nothing is downloaded unless a Hub repo id is given. The model is in eval mode and has
    `.name` set to where it came from.
    """
    source = str(source if source is not None else os.environ.get("DENOISER_MODEL") or DEFAULT_MODEL)
    if source in RENAMED_MODELS and not Path(source).is_dir():
        import warnings

        warnings.warn(f"the shipped model {source!r} was replaced by {RENAMED_MODELS[source]!r}; loading that",
                      stacklevel=2)
        source = RENAMED_MODELS[source]
    if source.startswith(HUB_PREFIX):  # explicit: never a local folder, even if one has that name
        return _load_hub_id(source[len(HUB_PREFIX):], revision, device, endpoint, token)
    folder = shipped_folder(source)
    if folder is not None:
        if not (folder / WEIGHTS_NAME).is_file():
            raise ModelLoadError(
                f"no shipped weights for {source!r} in this copy of the package ({folder} is missing); "
                "train a model with `python -m train` and pass its folder, or give a Hub repo id"
            )
        model = load_folder(folder, device)
        model.name = source
        return model
    if Path(source).expanduser().is_dir():
        return load_folder(Path(source).expanduser(), device)
    local = Path(source).expanduser()
    if source.startswith((".", "/", "~")) or local.parent.is_dir() and local.parent != Path("."):
        raise ModelLoadError(f"{source}: no such folder (a weights folder needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    return _load_hub_id(source, revision, device, endpoint, token)


def _load_hub_id(source: str, revision: str | None, device, endpoint: str | None, token: str | None) -> torch.nn.Module:
    repo_id, revision = _split_revision(source, revision)
    if repo_id.count("/") != 1 or any(not part for part in repo_id.split("/")):
        raise ModelLoadError(
            f"{source!r} is neither a shipped model {SHIPPED_MODELS}, a local folder, nor a Hub repo id (owner/name)"
        )
    return _load_from_hub(repo_id, revision, device, endpoint, token)


def _load_from_hub(repo_id: str, revision: str | None, device, endpoint: str | None, token: str | None) -> torch.nn.Module:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    def fetch(filename: str) -> Path:
        try:
            return Path(hf_hub_download(repo_id, filename, revision=revision, endpoint=endpoint, token=token))
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as err:
            at = f" at revision {revision}" if revision else ""
            raise ModelLoadError(f"could not download {filename} from Hub repo {repo_id}{at}: {err}") from None

    config = read_config(fetch(CONFIG_NAME))
    model = _load(config, fetch(WEIGHTS_NAME), device, name=repo_id)
    model.revision = revision
    return model
