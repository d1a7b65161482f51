"""The speed harness times every network in its fastest memory layout (both tried, weights and input
alike), on the same image in the same run; the card compares network with network and says when a
stated speed target is missed."""

import time

import numpy as np
import torch
from torch import nn

from benchmarks import benchmark, timing
from benchmarks.peers import FFDNet
from benchmarks.speed_card import speed_lines
from denoiser.model import build_model

from conftest import tiny_config


class SlowIn(nn.Module):
    """Sleeps when its input is in `slow` layout; checks its weights are in the input's layout."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.slow = slow

    def forward(self, x):
        layout = "channels_last" if not x.is_contiguous() else "NCHW"
        weight_layout = "NCHW" if self.conv.weight.is_contiguous() else "channels_last"
        assert weight_layout == layout, "weights and input must share the layout being timed"
        if layout == self.slow:
            time.sleep(0.02)
        return self.conv(x)


def test_each_network_keeps_its_faster_layout_and_is_left_as_it_was():
    image = np.zeros((16, 16, 3), np.uint8)
    for slow, fast in (("NCHW", "channels_last"), ("channels_last", "NCHW")):
        net = SlowIn(slow)
        timed = timing.time_network(net, image, repeats=1)
        assert timed["layout"] == fast and set(timed["by_layout"]) == {"NCHW", "channels_last"}
        assert timed["by_layout"][fast] > 2 * timed["by_layout"][slow]
        assert net.conv.weight.is_contiguous()  # the caller's module keeps its own layout


def test_throughput_compares_network_with_network_in_one_run():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    model.name = "tiny"
    peer = FFDNet(depth=3, width=8).eval()
    peer.name = "ffdnet"
    result = benchmark.measure_throughput(model, size=32, repeats=1, peers=[peer])
    networks = result["networks"]
    assert list(networks) == ["ours", "DnCNN", "ffdnet"]
    for net in networks.values():
        assert net["layout"] in timing.LAYOUTS and net["mp_per_s"] == max(net["by_layout"].values())
    assert np.isclose(result["speedup_vs_dncnn"], networks["ours"]["mp_per_s"] / networks["DnCNN"]["mp_per_s"])
    assert result["dncnn_layout"] == networks["DnCNN"]["layout"] and result["peers"] == {"ffdnet": networks["ffdnet"]["mp_per_s"]}


def test_the_card_says_when_a_speed_target_is_missed():
    def net(mp_per_s, layout):
        return {"mp_per_s": mp_per_s, "layout": layout, "by_layout": {"NCHW": mp_per_s, "channels_last": mp_per_s}}

    speed = {"size": 64, "threads": 2, "mp_per_s": 1.0, "networks": {"ours": net(1.0, "NCHW"), "DnCNN": net(0.2, "NCHW"),
                                                                         "ffdnet": net(0.8, "channels_last")}}
    text = "\n".join(speed_lines(speed, "gaussian", {"DnCNN": 10.0, "ffdnet": 1.2}))
    assert "5.0× as fast | ≥ 10×: **missed** |" in text and "1.2× as fast | ≥ 1.2×: met |" in text
    legacy = {"size": 64, "threads": 2, "mp_per_s": 1.0, "dncnn_mp_per_s": 0.1, "speedup_vs_dncnn": 10.0}
    assert "Not layout-fair" in "\n".join(speed_lines(legacy, "gaussian"))
