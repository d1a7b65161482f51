"""Other people's trained denoisers, run here beside ours on the same inputs (never shipped).

`load_peer("ffdnet=PATH")` builds the authors' FFDNet (Zhang et al., TIP 2018) from converted
weights (`../shared/peers/ffdnet_color.safetensors`; see the README there). The module looks
like one of our models to `denoise()`, `evaluate()` and the benchmark: it has a `config` with a
noise-map input, a `stride` and a `receptive_radius()`, so tiling and the protocol are shared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PEERS = ("ffdnet",)


@dataclass(frozen=True)
class PeerConfig:
    arch: str = "ffdnet"
    channels: int = 3
    noise_map: bool = True


class FFDNet(nn.Module):
    """FFDNet, colour: 2x2 pixel-unshuffle, the noise map appended as a 13th channel, 12 3x3 convs
    (ReLU between) at half resolution, pixel-shuffle back. It predicts the clean image."""

    def __init__(self, depth: int = 12, width: int = 96) -> None:
        super().__init__()
        self.config = PeerConfig()
        self.convs = nn.ModuleList(
            nn.Conv2d(13 if i == 0 else width, 12 if i == depth - 1 else width, 3, padding=1) for i in range(depth)
        )

    stride = 2

    def receptive_radius(self) -> int:
        return 2 * len(self.convs) + 2

    def forward(self, noisy: torch.Tensor, sigma_map: torch.Tensor | None = None, noise_scale: float = 1.0) -> torch.Tensor:
        """noisy (B, 3, H, W), H and W even; sigma_map (B, 1, H, W) or (B, 1, 1, 1) in [0, 1] units."""
        if sigma_map is None:
            raise ValueError("FFDNet needs a noise level (sigma_map)")
        half = F.pixel_unshuffle(noisy, 2)  # (B, 12, H/2, W/2)
        level = sigma_map.expand(-1, 1, *noisy.shape[-2:]) if sigma_map.shape[-2:] == (1, 1) else sigma_map
        x = torch.cat([half, F.avg_pool2d(level, 2)], dim=1)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.relu(x, inplace=True)
        return F.pixel_shuffle(x, 2)


def load_peer(spec: str) -> nn.Module:
    """NAME=PATH (e.g. "ffdnet=../shared/peers/ffdnet_color.safetensors") -> the peer model, eval mode,
    named NAME. Only safetensors are read."""
    from safetensors.torch import load_file

    name, sep, path = spec.partition("=")
    if not sep or name not in PEERS:
        raise ValueError(f"--peer {spec!r}: expected NAME=PATH with NAME in {PEERS}")
    path = Path(os.path.expanduser(path))
    if not path.is_file():
        raise FileNotFoundError(f"--peer {spec}: {path} does not exist")
    model = FFDNet()
    state = {k.replace("conv", "convs.", 1): v for k, v in load_file(str(path)).items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"--peer {spec}: not FFDNet colour weights ({str(err).splitlines()[0]})") from None
    model.name = name
    return model.to(memory_format=torch.channels_last).eval()
