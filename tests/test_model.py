import json

import pytest
import torch

from denoiser.model import ModelConfig, build_model, count_parameters, macs_per_pixel, preset

from conftest import tiny_config


@pytest.mark.parametrize("name", ["seed", "default"])
def test_presets_shapes_and_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = build_model(preset(name, channels=3))
    x = torch.rand(2, 3, 24, 32)
    out = model(x, torch.full((2, 1, 24, 32), 0.1))
    assert out.shape == x.shape and torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_seed_preset_is_the_papers_network():
    model = build_model(preset("seed"))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert convs and deconvs
    assert all(m.kernel_size == (2, 2) and m.stride == (1, 1) for m in convs + deconvs)
    assert max(m.out_channels for m in convs) == 256
    assert 2.5e6 < count_parameters(model) < 3.5e6


def test_default_is_residual_with_noise_map_and_cheap():
    config = preset("default")
    model = build_model(config)
    assert config.noise_map and model.stride == 8
    assert macs_per_pixel(model) < 60_000  # the CPU budget behind >= 1 MP/s on 2 cores
    with pytest.raises(ValueError, match="noise level"):
        model(torch.rand(1, 3, 16, 16))


def test_gray_model():
    model = build_model(tiny_config(channels=1))
    assert model(torch.rand(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)).shape == (1, 1, 16, 16)


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"arch": "unet", "widht": [8]})
    with pytest.raises(ValueError, match="unknown architecture"):
        ModelConfig(arch="transformer")
    with pytest.raises(ValueError, match="channels"):
        ModelConfig(channels=2)
    with pytest.raises(ValueError, match="enc_blocks"):
        ModelConfig(widths=(8, 16, 32), enc_blocks=(1,), dec_blocks=(1,))


def test_config_json_round_trip():
    config = tiny_config()
    assert ModelConfig.from_dict(json.loads(config.to_json())) == config


def test_receptive_radius_bounds_the_true_influence():
    torch.manual_seed(0)
    model = build_model(tiny_config()).double()
    size = 64
    x = torch.rand(1, 3, size, size, dtype=torch.double, requires_grad=True)
    out = model(x, torch.full((1, 1, size, size), 0.1, dtype=torch.double))
    out[0, :, size // 2, size // 2].sum().backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    reach = max((rows - size // 2).abs().max(), (cols - size // 2).abs().max())
    assert reach <= model.receptive_radius()


def test_macs_count_the_noise_estimator():
    from denoiser.model import macs_per_pixel

    plain, photo = build_model(preset("deep")), build_model(preset("photo"))  # photo: deep + estimator
    extra = macs_per_pixel(photo) - macs_per_pixel(plain)
    assert 4_000 < extra < 9_000  # five convs at 1/16 of the pixels, about 6.5 k per pixel
