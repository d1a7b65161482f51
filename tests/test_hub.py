"""Publishing runs to the Hub (train.push) and loading them back (denoiser.load_model),
against the in-memory Hub of tests/hub_server.py: no network needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import denoiser
from denoiser.hub import ModelLoadError, load_folder, save_model
from denoiser.model import build_model, preset
from denoiser_train.push import push_run

try:
    from .hub_server import HubServer
except ImportError:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from hub_server import HubServer

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(widths=(8, 16), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A fresh in-memory Hub; yields the server (`hub.endpoint` is its URL). HF cache and token are isolated."""
    import huggingface_hub.constants as hf_constants

    home = tmp_path / "hf_home"
    for name, value in {
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_TOKEN": "hf_dummy_test_token",
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("DENOISER_MODEL", raising=False)
    # huggingface_hub reads these at import time: patch the values already read in this process too.
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    with HubServer() as server:
        yield server


def make_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(preset("default", **TINY)).eval()


def fake_run(folder: Path, model: torch.nn.Module, card: str = "a model card") -> Path:
    """A run folder as the trainer leaves it: RUN/model/{config.json, model.safetensors, README.md} + log.csv."""
    save_model(model, folder / "model")
    (folder / "model" / "README.md").write_text(f"---\nlibrary_name: denoiser\n---\n\n{card}\n")
    (folder / "log.csv").write_text("step,train_loss\n1,0.5\n")
    return folder


def outputs(model: torch.nn.Module) -> torch.Tensor:
    generator = torch.Generator().manual_seed(123)
    noisy = torch.rand(2, 3, 32, 32, generator=generator)
    with torch.no_grad():
        return model(noisy, torch.full((2, 1, 1, 1), 25 / 255))


def same_model(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    state_a, state_b = a.state_dict(), b.state_dict()
    return (
        a.config == b.config
        and state_a.keys() == state_b.keys()
        and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
        and torch.equal(outputs(a), outputs(b))
    )


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "train", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_push_then_load_round_trip(hub, tmp_path):
    from huggingface_hub import hf_hub_download

    model = make_model(0)
    url = push_run(fake_run(tmp_path / "run", model), "user/repo", endpoint=hub.endpoint)
    assert url.startswith(f"{hub.endpoint}/user/repo/commit/")

    loaded = denoiser.load_model("user/repo", endpoint=hub.endpoint)
    assert loaded.name == "user/repo" and not loaded.training
    assert same_model(model, loaded)

    card = hf_hub_download("user/repo", "README.md", endpoint=hub.endpoint)
    assert "a model card" in Path(card).read_text()
    log = hf_hub_download("user/repo", "training_log.csv", endpoint=hub.endpoint)
    assert Path(log).read_text().startswith("step,")
    # One commit on top of the repo's initial one, holding every file.
    files = set(hub.repos["user/repo"].commits[url.rsplit("/", 1)[1]])
    assert files == {".gitattributes", "config.json", "model.safetensors", "README.md", "training_log.csv"}


def test_revision_pinning(hub, tmp_path):
    first, second = make_model(1), make_model(2)
    assert not same_model(first, second)
    first_url = push_run(fake_run(tmp_path / "a", first), "user/repo", endpoint=hub.endpoint)
    first_sha = first_url.rsplit("/", 1)[1]
    push_run(fake_run(tmp_path / "b", second, card="second"), "user/repo", revision="v2", endpoint=hub.endpoint)

    assert same_model(first, denoiser.load_model("user/repo", endpoint=hub.endpoint))  # main is untouched
    assert same_model(second, denoiser.load_model("user/repo@v2", endpoint=hub.endpoint))
    assert same_model(second, denoiser.load_model("user/repo", revision="v2", endpoint=hub.endpoint))

    # A second commit on main; the first one stays reachable by its sha.
    push_run(tmp_path / "b", "user/repo", endpoint=hub.endpoint)
    assert same_model(second, denoiser.load_model("user/repo", endpoint=hub.endpoint))
    pinned = denoiser.load_model(f"user/repo@{first_sha}", endpoint=hub.endpoint)
    assert same_model(first, pinned) and pinned.revision == first_sha


def test_hf_prefix_means_the_hub_even_beside_a_same_named_folder(hub, tmp_path, monkeypatch):
    model = make_model(0)
    push_run(fake_run(tmp_path / "run", model), "user/repo", endpoint=hub.endpoint)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "user").mkdir()  # ./user exists, so plain "user/repo" reads as a missing local folder
    with pytest.raises(ModelLoadError, match="no such folder"):
        denoiser.load_model("user/repo", endpoint=hub.endpoint)
    loaded = denoiser.load_model("hf://user/repo@main", endpoint=hub.endpoint)
    assert same_model(model, loaded) and loaded.revision == "main"


def test_load_errors_name_the_repo(hub):
    with pytest.raises(ModelLoadError, match="user/missing"):
        denoiser.load_model("user/missing", endpoint=hub.endpoint)


def test_load_unknown_revision(hub, tmp_path):
    push_run(fake_run(tmp_path / "run", make_model(0)), "user/repo", endpoint=hub.endpoint)
    with pytest.raises(ModelLoadError, match="user/repo at revision nope"):
        denoiser.load_model("user/repo@nope", endpoint=hub.endpoint)


def test_push_errors(hub, tmp_path):
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(ValueError, match=r"model.*missing.*--resume"):
        push_run(tmp_path / "unfinished", "user/repo", endpoint=hub.endpoint)
    (tmp_path / "unfinished" / "model").mkdir()
    (tmp_path / "unfinished" / "model" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="model.safetensors"):
        push_run(tmp_path / "unfinished", "user/repo", endpoint=hub.endpoint)
    with pytest.raises(ValueError, match="no such run folder"):
        push_run(tmp_path / "absent", "user/repo", endpoint=hub.endpoint)

    run = fake_run(tmp_path / "run", make_model(0))
    for bad in ("no-owner", "a/b/c", "user/bad name", "/repo"):
        with pytest.raises(ValueError, match="bad repo id"):
            push_run(run, bad, endpoint=hub.endpoint)
    with pytest.raises(ValueError, match="branch name"):
        push_run(run, "user/repo", revision="0" * 40, endpoint=hub.endpoint)
    assert not hub.repos  # nothing was created by the refused pushes


def test_push_http_errors_are_wrapped(hub, tmp_path, monkeypatch):
    run = fake_run(tmp_path / "run", make_model(0))
    monkeypatch.delenv("HF_TOKEN")  # the server refuses writes without a token
    with pytest.raises(RuntimeError, match=r"user/repo.*creating the repo.*401.*token"):
        push_run(run, "user/repo", endpoint=hub.endpoint)
    with pytest.raises(RuntimeError, match="reachable"):
        push_run(run, "user/repo", token="x", endpoint="http://127.0.0.1:9")  # nothing listens on port 9


def test_cli_push(hub, tmp_path):
    model = make_model(3)
    run = fake_run(tmp_path / "run", model)
    done = run_cli("push", str(run), "user/cli", "--endpoint", hub.endpoint, "--revision", "dev", "--private")
    assert done.returncode == 0, done.stderr
    assert f"{hub.endpoint}/user/cli/commit/" in done.stdout
    assert hub.repos["user/cli"].private
    assert same_model(model, denoiser.load_model("user/cli@dev", endpoint=hub.endpoint))

    missing = run_cli("push", str(tmp_path / "absent"), "user/cli", "--endpoint", hub.endpoint)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error:") and "no such run folder" in missing.stderr
    assert "Traceback" not in missing.stderr

    refused = run_cli("push", str(run), "user/cli", "--endpoint", hub.endpoint, env={**os.environ, "HF_TOKEN": ""})
    assert refused.returncode == 2 and "error:" in refused.stderr and "Traceback" not in refused.stderr


def test_train_with_push_to_hub(hub, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 96)
    for i in range(4):  # smooth gradients plus texture: something to denoise
        image = (ramp[None, :, None] * (i + 1) / 4 + ramp[:, None, None] * [0.2, 0.5, 0.8]) / 2
        image = np.clip(image + rng.normal(0, 8, (96, 96, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(clean / f"{'abcd'[i]}.png")  # four scenes (scene_of drops trailing digits)
    run = tmp_path / "run"
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint}  # the trainer has no --endpoint: huggingface_hub reads this
    done = run_cli(
        "--clean", str(clean), "--noise", "gaussian:0-50", "--steps", "4", "--batch", "4", "--patch", "32",
        "--out", str(run), "--push-to-hub", "user/trained", "--val-fraction", "0.5", "--val-limit", "1",
        "--threads", "1", env=env, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"pushed to {hub.endpoint}/user/trained/commit/" in done.stdout
    pushed = set(hub.repos["user/trained"].commits[hub.repos["user/trained"].branches["main"]])
    assert {"config.json", "model.safetensors", "README.md", "samples.png", "training_log.csv"} <= pushed
    assert same_model(load_folder(run / "model"), denoiser.load_model("user/trained", endpoint=hub.endpoint))
