"""The denoising autoencoders: the paper's `seed` network and our `default` encoder-decoder.

Both map a noisy image (B, C, H, W) in [0, 1] to a denoised one of the same shape. The
architecture is fully described by a frozen `ModelConfig`, which is stored as config.json
beside model.safetensors so a weights folder explains itself.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURES = ("seed", "unet")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters. Unknown keys and bad values raise `ValueError`."""

    arch: str = "unet"
    channels: int = 3  # 1 (gray) or 3 (RGB)
    # unet: width per level; level i works at 1/2**i resolution
    widths: tuple[int, ...] = (16, 32, 64, 192)  # wide where pixels are cheap: 1/64 of them at level 3
    enc_blocks: tuple[int, ...] = (1, 1, 1)  # residual blocks before each downsampling
    mid_blocks: int = 2  # residual blocks at the lowest resolution
    dec_blocks: tuple[int, ...] = (1, 1, 1)  # residual blocks after each upsampling
    # seed: the paper's Conv2d/ConvTranspose2d autoencoder
    seed_filters: int = 256
    seed_depth: int = 7  # conv layers in the encoder (and transposed convs in the decoder)
    seed_kernel: int = 2
    noise_map: bool = True  # feed sigma as an extra input channel (unet only)
    estimator: bool = False  # a small noise-map estimator in front (unet with noise_map): blind on real photos
    estimator_width: int = 48  # its channels; it works at 1/16 of the pixels, so it is cheap
    # The estimator's level is calibrated for correlated noise and reads white noise high: denoise() then uses the
    # wavelet estimate where the noise looks white (denoiser.white_noise; thresholds set for photo v2)
    white_noise_check: bool = False

    def __post_init__(self) -> None:
        # JSON gives lists; store tuples so the config stays hashable and frozen.
        for name in ("widths", "enc_blocks", "dec_blocks"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; expected one of {ARCHITECTURES}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.arch == "unet":
            levels = len(self.widths)
            if levels < 1 or any(w < 1 for w in self.widths):
                raise ValueError(f"widths must be positive, got {self.widths}")
            if len(self.enc_blocks) != levels - 1 or len(self.dec_blocks) != levels - 1:
                raise ValueError(
                    f"enc_blocks and dec_blocks need {levels - 1} entries for {levels} widths, "
                    f"got {self.enc_blocks} and {self.dec_blocks}"
                )
        elif self.seed_depth < 1 or self.seed_filters < 1 or self.seed_kernel < 1:
            raise ValueError("seed_depth, seed_filters and seed_kernel must be positive")
        if self.arch == "seed" and self.noise_map:
            object.__setattr__(self, "noise_map", False)  # the paper's network is non-blind
        if self.estimator and not self.noise_map:
            raise ValueError("estimator needs noise_map: it predicts the map the denoiser takes")

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {unknown}")
        return cls(**data)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


PRESETS: dict[str, ModelConfig] = {
    "seed": ModelConfig(arch="seed"),
    "default": ModelConfig(),
    # default + a second residual block at 1/2 and 1/4 resolution: +34% MACs, for a GPU-sized budget
    "deep": ModelConfig(enc_blocks=(1, 2, 2), dec_blocks=(1, 2, 2)),
    # deep + a learned noise-map estimator: blind on real photos (photo v2; v1 was default + estimator)
    "photo": ModelConfig(enc_blocks=(1, 2, 2), dec_blocks=(1, 2, 2), estimator=True),
}


def preset(name: str, **overrides) -> ModelConfig:
    """Return a named preset (`seed` or `default`), optionally with some fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


class ResBlock(nn.Module):
    """conv3x3-ReLU-conv3x3 plus identity. The second conv starts small so the block begins
    close to the identity (as in NAFNet), which keeps early training stable."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        with torch.no_grad():
            self.conv2.weight.mul_(0.1)
            self.conv2.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


def _blocks(width: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(width) for _ in range(count)))


class NoiseEstimator(nn.Module):
    """Predicts the per-pixel noise std map (B, 1, H, W), in [0, 1] units, from the noisy image, as
    CBDNet's estimation subnet does (Guo et al., CVPR 2019). It works on 4x4 pixel-unshuffled
    input: noise level changes slowly across an image, so 1/16 of the pixels suffice."""

    factor = 4

    def __init__(self, channels: int, width: int, depth: int = 5) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.PixelUnshuffle(self.factor)]
        for i in range(depth):
            layers += [nn.Conv2d(channels * self.factor**2 if i == 0 else width, width, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.depth = depth

    def receptive_radius(self) -> int:
        return self.factor * (self.depth + 2) + self.factor  # convs at 1/4 scale, then bilinear upsampling

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        low = F.softplus(self.body(noisy)) * 0.05  # 0.05: a typical std, so the output starts in range
        return F.interpolate(low, scale_factor=self.factor, mode="bilinear", align_corners=False)


def image_level(noise_map: torch.Tensor) -> torch.Tensor:
    """One noise level per image (B, 1, 1, 1): the median of a (B, 1, H, W) map. denoise() gives the
    denoiser this level rather than the map itself (the map reads texture as noise), so training
    the estimator through the denoiser uses it too."""
    return noise_map.flatten(1).median(dim=1).values.view(-1, 1, 1, 1)


class UNetDenoiser(nn.Module):
    """Encoder-decoder with strided-conv downsampling, transposed-conv upsampling, additive skip
    connections between mirrored levels, a noise-level-map input and a residual output."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        w, c = config.widths, config.channels
        self.config = config
        self.head = nn.Conv2d(c + int(config.noise_map), w[0], 3, padding=1)
        self.encoders = nn.ModuleList(_blocks(w[i], n) for i, n in enumerate(config.enc_blocks))
        self.downs = nn.ModuleList(nn.Conv2d(w[i], w[i + 1], 2, stride=2) for i in range(len(w) - 1))
        self.middle = _blocks(w[-1], config.mid_blocks)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in range(len(w) - 1))
        self.decoders = nn.ModuleList(_blocks(w[i], n) for i, n in enumerate(config.dec_blocks))
        self.tail = nn.Conv2d(w[0], c, 3, padding=1)
        self.estimator = NoiseEstimator(c, config.estimator_width) if config.estimator else None

    @property
    def stride(self) -> int:
        levels = 2 ** (len(self.config.widths) - 1)
        return math.lcm(levels, NoiseEstimator.factor) if self.estimator is not None else levels

    def receptive_radius(self) -> int:
        """Pixels of context on each side that can influence one output pixel (an upper bound)."""
        cfg, radius = self.config, 1  # head
        for level, n in enumerate(cfg.enc_blocks):
            radius += 2 * n * 2**level + 2**level  # blocks, then the 2x2 stride-2 downsampling
        radius += 2 * cfg.mid_blocks * 2 ** (len(cfg.widths) - 1)
        for level, n in enumerate(cfg.dec_blocks):
            radius += 2 * n * 2**level + 2**level  # transposed conv, then blocks
        radius += 1  # tail
        return radius + (self.estimator.receptive_radius() if self.estimator is not None else 0)

    def forward(
        self,
        noisy: torch.Tensor,
        sigma_map: torch.Tensor | None = None,
        noise_scale: float = 1.0,
        return_estimate: bool = False,
        per_image: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """noisy (B, C, H, W) with H, W multiples of `stride`; sigma_map (B, 1, H, W) in [0, 1] units.
        With an estimator, sigma_map None means: estimate it, times `noise_scale` (the strength);
        per_image=True gives the denoiser the map's median (`image_level`), as denoise() does.
        return_estimate also returns the estimated map (for training the estimator)."""
        x = noisy
        estimate = self.estimator(noisy) if self.estimator is not None and (sigma_map is None or return_estimate) else None
        if self.config.noise_map:
            if sigma_map is None:
                if estimate is None:
                    raise ValueError("this model needs a noise level (sigma_map)")
                sigma_map = (image_level(estimate) if per_image else estimate) * noise_scale
            x = torch.cat([noisy, sigma_map.expand(-1, 1, *noisy.shape[-2:])], dim=1)
        x = self.head(x)  # (B, w0, H, W)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)  # (B, w_{i+1}, H/2, W/2)
        x = self.middle(x)
        for i in reversed(range(len(self.ups))):
            x = self.decoders[i](self.ups[i](x) + skips[i])
        out = noisy - self.tail(x)  # predict the noise, subtract it
        return (out, estimate) if return_estimate else out


class SeedAutoencoder(nn.Module):
    """The original paper's network: Conv2d encoder, ConvTranspose2d decoder, ReLU, 2x2 kernels,
    stride 1, no padding (each conv shrinks the image by k-1, each transposed conv grows it back),
    predicting the clean image directly."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c, f, k, depth = config.channels, config.seed_filters, config.seed_kernel, config.seed_depth
        enc = [nn.Conv2d(c if i == 0 else f, f, k) for i in range(depth)]
        dec = [nn.ConvTranspose2d(f, c if i == depth - 1 else f, k) for i in range(depth)]
        self.encoder = nn.Sequential(*(m for conv in enc for m in (conv, nn.ReLU(inplace=True))))
        layers = [m for conv in dec for m in (conv, nn.ReLU(inplace=True))]
        self.decoder = nn.Sequential(*layers[:-1])  # linear output

    stride = 1

    def receptive_radius(self) -> int:
        return 2 * self.config.seed_depth * (self.config.seed_kernel - 1)

    def forward(self, noisy: torch.Tensor, sigma_map: torch.Tensor | None = None, noise_scale: float = 1.0) -> torch.Tensor:
        return self.decoder(self.encoder(noisy))


def build_model(config: ModelConfig) -> nn.Module:
    """Instantiate the network a config describes (random weights), in channels_last layout:
    oneDNN's convolutions are markedly faster with it on CPU, and state dicts are unaffected."""
    model = SeedAutoencoder(config) if config.arch == "seed" else UNetDenoiser(config)
    return model.to(memory_format=torch.channels_last)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_pixel(model: nn.Module, size: int = 64) -> float:
    """Multiply-accumulates per input pixel, counted by hooking every conv on a size x size input."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        k = module.weight[0].numel()  # in_channels/groups * kh * kw
        if isinstance(module, nn.ConvTranspose2d):  # each input pixel touches out_ch * kh * kw outputs
            total += inputs[0].numel() * module.weight[0].numel()
        else:
            total += output.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        device = next(model.parameters()).device  # a model still on the GPU after training, say
        x = torch.zeros(1, model.config.channels, size, size, device=device)
        with torch.no_grad():  # a model with an estimator counts it too: it runs on every image
            model(x, None if getattr(model, "estimator", None) is not None else torch.zeros(1, 1, size, size, device=device))
    finally:
        for h in handles:
            h.remove()
    return total / (size * size)
