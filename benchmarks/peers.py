"""Other people's trained denoisers, run here beside ours on the same inputs (never shipped).

`load_peer("ffdnet=PATH")` builds the authors' FFDNet (Zhang et al., TIP 2018) from converted
weights (`../shared/peers/ffdnet_color.safetensors`; see the README there); `pd=PATH` their
PD-Denoising (Zhou et al., AAAI 2020), blind, run as the authors run it on real photos;
`tmbsn-sidd=PATH` / `tmbsn-dnd=PATH` the self-supervised TM-BSN students (Park et al., CVPR 2026),
blind, each with its own test-time padding. Each module
looks like one of our models to `denoise()`, `evaluate()` and the benchmark: it has a `config` with a
noise-map input, a `stride` and a `receptive_radius()`, so tiling and the protocol are shared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PEERS = ("ffdnet", "pd", "tmbsn-sidd", "tmbsn-dnd")
# The TM-BSN students' test-time border (px, reflect, every side): the authors' SIDD script pads 16,
# their DND script none.
TMBSN_BORDER = {"tmbsn-sidd": 16, "tmbsn-dnd": 0}


@dataclass(frozen=True)
class PeerConfig:
    arch: str = "ffdnet"
    channels: int = 3
    noise_map: bool = True
    estimator: bool = False


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


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class PDDenoising(nn.Module):
    """PD-Denoising, colour: a blind DnCNN (20 convs, batch norm, residual output) fed a 6-channel
    noise map from a small estimator, run on real photos with pixel-shuffle downsampling (stride 2)
    as in the authors' `--ps 2 --real 1 --k 0 --refine 0` setting (see ../shared/peers/README.md):
    denoise the 2x2 mosaic of sub-images, then, per phase, put that phase's noisy pixels back into
    the shuffled-back result and denoise once more; the output is the mean of the four. Five passes."""

    def __init__(self, depth: int = 20, width: int = 64) -> None:
        super().__init__()
        self.config = PeerConfig(arch="pd", noise_map=False)
        self.est = nn.Sequential(_conv(3, width), nn.ReLU(inplace=True), _conv(width, width), nn.BatchNorm2d(width),
                                 nn.ReLU(inplace=True), _conv(width, 6))
        layers: list[nn.Module] = [_conv(9, width), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [_conv(width, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*layers, _conv(width, 3))

    stride = 2

    def receptive_radius(self) -> int:
        return 2 * (20 + 3) + 20 + 3  # a pass on the mosaic reaches twice as far, then one plain pass

    def clean(self, x: torch.Tensor) -> torch.Tensor:
        """One blind pass: the map estimated per pixel, the residual subtracted, clamped to [0, 1]."""
        noise_map = self.est(x).clamp(0, 1)  # (B, 6, H, W): 3 Gaussian, 3 impulse levels
        return (x - self.net(torch.cat([x, noise_map], dim=1))).clamp(0, 1)

    def forward(self, noisy: torch.Tensor, sigma_map: torch.Tensor | None = None, noise_scale: float = 1.0) -> torch.Tensor:
        """noisy (B, 3, H, W), H and W even, in [0, 1]; blind (sigma_map must be None)."""
        if sigma_map is not None or noise_scale != 1:
            raise ValueError("PD-Denoising is blind: it takes no noise level")
        return pixel_shuffle_denoise(noisy, self.clean)


def pixel_shuffle_denoise(noisy: torch.Tensor, clean) -> torch.Tensor:
    """PD-Denoising's stride-2 procedure around any blind one-pass denoiser `clean` ((B, C, H, W) ->
    same; H and W even): denoise the 2x2 mosaic of sub-images (neighbours there were 2 px apart, so
    the noise's spatial correlation is broken), un-shuffle it, then for each phase put that phase's
    noisy pixels back and denoise once more; the output is the mean of the four."""
    phases = [(i, j) for i in (0, 1) for j in (0, 1)]
    subs = [noisy[..., i::2, j::2] for i, j in phases]  # each (B, C, H/2, W/2)
    mosaic = torch.cat([torch.cat(subs[:2], dim=-1), torch.cat(subs[2:], dim=-1)], dim=-2)
    done = clean(mosaic)
    h, w = subs[0].shape[-2:]
    back = torch.empty_like(noisy)
    for (i, j), block in zip(phases, (done[..., :h, :w], done[..., :h, w:], done[..., h:, :w], done[..., h:, w:])):
        back[..., i::2, j::2] = block
    total = torch.zeros_like(noisy)
    for i, j in phases:
        refill = back.clone()
        refill[..., i::2, j::2] = noisy[..., i::2, j::2]
        total += clean(refill)
    return total / 4


class _ConvLReLU(nn.Module):
    """3x3 conv (bias) + LeakyReLU 0.1, named `.conv` as in the authors' state dicts."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x), 0.1, inplace=True)


class TMBSNStudent(nn.Module):
    """The TM-BSN student (Park et al., CVPR 2026; 1,021,107 parameters): a plain 6-level U-Net, 48
    channels in the encoder (2x2 max-pool between levels), 96 in the decoder (nearest 2x upsampling,
    then concatenation with the encoder's output), LeakyReLU 0.1, no normalisation. It predicts the
    clean image. `border`: the reflect padding its test script adds on every side (SIDD 16, DND 0)."""

    depth = 6  # levels: full resolution down to 1/32
    stride = 1  # forward() pads to its own multiple of 32 (reflect, bottom/right) and crops back

    def __init__(self, border: int = 0, width: int = 48) -> None:
        super().__init__()
        self.config = PeerConfig(arch="tmbsn", noise_map=False)
        self.border = border
        self.enc1 = _ConvLReLU(3, width)
        for level in range(2, self.depth + 1):
            setattr(self, f"enc{level}", _ConvLReLU(width, width))
        self.dec5_2, self.dec5_1 = _ConvLReLU(2 * width, 2 * width), _ConvLReLU(2 * width, 2 * width)
        for level in (4, 3, 2):
            setattr(self, f"dec{level}_2", _ConvLReLU(3 * width, 2 * width))
            setattr(self, f"dec{level}_1", _ConvLReLU(2 * width, 2 * width))
        self.dec1_2 = _ConvLReLU(3 * width, 2 * width)
        self.dec1_1 = nn.Conv2d(2 * width, 3, 3, padding=1)

    def receptive_radius(self) -> int:
        # Encoder: a conv at level L reaches 2^(L-1) px, each pool up to as much again (94 px in all);
        # decoder: two convs per level, 62 px; rounded up for the pooling grid. Only tiling reads it.
        return 192

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """The U-Net alone: x (B, 3, H, W), H and W multiples of 32 -> (B, 3, H, W), unclipped."""
        skips = [self.enc1(x)]  # e1 (B, 48, H, W)
        for level in range(2, self.depth + 1):
            skips.append(getattr(self, f"enc{level}")(F.max_pool2d(skips[-1], 2)))  # eL at 1/2^(L-1)
        y = skips.pop()  # e6 (B, 48, H/32, W/32)
        for level in range(self.depth - 1, 0, -1):
            y = torch.cat([F.interpolate(y, scale_factor=2, mode="nearest"), skips.pop()], dim=1)
            y = getattr(self, f"dec{level}_2")(y)
            y = getattr(self, f"dec{level}_1")(y)  # dec1_1: the plain output conv (96 -> 3)
        return y

    def forward(self, noisy: torch.Tensor, sigma_map: torch.Tensor | None = None, noise_scale: float = 1.0) -> torch.Tensor:
        """noisy (B, 3, H, W) in [0, 1], any H and W; blind. As the authors' test scripts: reflect-pad
        `border` px on every side, then bottom/right up to multiples of 32, one pass, crop back."""
        if sigma_map is not None or noise_scale != 1:
            raise ValueError("the TM-BSN student is blind: it takes no noise level")
        height, width = noisy.shape[-2:]
        b = self.border
        x = _pad(noisy, (b, b, b, b)) if b else noisy
        multiple = 2 ** (self.depth - 1)
        pad_h, pad_w = -x.shape[-2] % multiple, -x.shape[-1] % multiple
        x = _pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x
        return self.network(x)[..., b : b + height, b : b + width]


def _pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Reflect padding (left, right, top, bottom), as the authors use; replicate where an image is too
    small to reflect (a pad must be shorter than the side), which their test sets never are."""
    fits = max(pad[:2]) < x.shape[-1] and max(pad[2:]) < x.shape[-2]
    return F.pad(x, pad, mode="reflect" if fits else "replicate")


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
    tensors = load_file(str(path))
    if name == "ffdnet":
        model, state, what = FFDNet(), {k.replace("conv", "convs.", 1): v for k, v in tensors.items()}, "FFDNet colour"
    elif name in TMBSN_BORDER:  # the authors' state dict, tensors unchanged: the keys match one for one
        model, state, what = TMBSNStudent(border=TMBSN_BORDER[name]), tensors, "TM-BSN student"
    else:  # the converted weights carry no batch-norm step counters; eval mode never reads them
        model, state, what = PDDenoising(), tensors, "PD-Denoising colour"
        state.update({k: v for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")})
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"--peer {spec}: not {what} weights ({str(err).splitlines()[0]})") from None
    model.name = name
    return model.to(memory_format=torch.channels_last).eval()
