"""Saving and loading weights folders: round trip, strictness, tampering."""

import json

import pytest
import torch

from denoiser.hub import ModelLoadError, load_model, save_model
from denoiser.model import build_model



def outputs(model):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        return model(x, torch.full((1, 1, 24, 24), 0.1))


def test_round_trip_gives_identical_outputs(tiny_model, tiny_model_dir):
    loaded = load_model(tiny_model_dir)
    assert torch.equal(outputs(tiny_model), outputs(loaded))
    assert not loaded.training and loaded.name == str(tiny_model_dir)
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == ["config.json", "model.safetensors"]


def test_seed_preset_round_trip(tmp_path):
    from denoiser.model import preset

    model = build_model(preset("seed", seed_depth=2, seed_filters=8)).eval()
    assert torch.equal(outputs(model), outputs(load_model(save_model(model, tmp_path / "seed"))))


def test_environment_variable_selects_the_model(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DENOISER_MODEL", str(tiny_model_dir))
    assert load_model().name == str(tiny_model_dir)


def test_truncated_weights(tiny_model_dir):
    weights = tiny_model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelLoadError, match="truncated or not a safetensors"):
        load_model(tiny_model_dir)


def test_pickle_is_not_accepted(tiny_model, tiny_model_dir):
    weights = tiny_model_dir / "model.safetensors"
    torch.save(tiny_model.state_dict(), weights)  # a pickle under the safetensors name
    with pytest.raises(ModelLoadError, match="not a safetensors"):
        load_model(tiny_model_dir)


def test_tampered_weights_with_nan(tiny_model, tiny_model_dir):
    from safetensors.torch import load_file, save_file

    state = load_file(tiny_model_dir / "model.safetensors")
    state["tail.bias"][0] = float("nan")
    save_file(state, tiny_model_dir / "model.safetensors")
    with pytest.raises(ModelLoadError, match="NaN"):
        load_model(tiny_model_dir)


def test_config_that_does_not_match_the_weights(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["widths"] = [8, 32]
    (tiny_model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not match config.json"):
        load_model(tiny_model_dir)


def test_missing_weight_keys_are_refused(tiny_model_dir):
    from safetensors.torch import load_file, save_file

    state = load_file(tiny_model_dir / "model.safetensors")
    del state["tail.bias"]
    save_file(state, tiny_model_dir / "model.safetensors")
    with pytest.raises(ModelLoadError, match="do not match"):
        load_model(tiny_model_dir)


@pytest.mark.parametrize("change, problem", [({"arch": "vit"}, "unknown architecture"),
                                             ({"extra_key": 1}, "unknown model config keys")])
def test_bad_config(tiny_model_dir, change, problem):
    config = {**json.loads((tiny_model_dir / "config.json").read_text()), **change}
    (tiny_model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=problem):
        load_model(tiny_model_dir)


def test_unknown_source_does_not_touch_the_network():
    with pytest.raises(ModelLoadError, match="neither a shipped model"):
        load_model("no-such-folder-or-repo")


def test_saving_from_a_wrapper_strips_prefixes(tmp_path, tiny_model):
    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    folder = save_model(Wrapper(tiny_model), tmp_path / "wrapped")
    assert torch.equal(outputs(tiny_model), outputs(load_model(folder)))


def test_missing_local_folder_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_model("runs/best")
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_model("./elsewhere/model")
