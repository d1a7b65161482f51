"""The speed section of a model card, from results.json's "speed": what a user gets through
`denoise()`, then network against network, each in its fastest memory layout, with the ratios and
any stated target beside them (met or missed)."""

from __future__ import annotations

DESCRIPTIONS = {"DnCNN": "DnCNN (17×64, random weights)", "ffdnet": "FFDNet (the authors' weights)",
                "pd": "PD-Denoising (the authors' weights, five passes)",
                "tmbsn-sidd": "TM-BSN student, SIDD (the authors' weights; 16 px border)",
                "tmbsn-dnd": "TM-BSN student, DND (the authors' weights)"}


def speed_lines(speed: dict, model_name: str, targets: dict[str, float] | None = None) -> list[str]:
    """Markdown lines for `speed`; `targets`: {network: the least ratio of our speed to its speed}."""
    size, threads = speed["size"], speed["threads"]
    lines = [f"- {speed['mp_per_s']:.2f} megapixels/s for RGB {size}×{size} through `denoise()` on {threads} threads,",
             "  the noise level estimated as a user runs it."]
    if "networks" not in speed:
        return lines + _before_the_layout_rule(speed)
    targets = targets or {}
    ours = speed["networks"]["ours"]["mp_per_s"]
    lines += ["- Network against network: the forward pass of each on the same image, in the same run and",
              f"  threads, warm-up excluded, each in its fastest memory layout on this CPU (NCHW and channels_last",
              "  both tried). σ 25 is given to a network that takes a level and does not estimate it; blind",
              "  ones and a model with its own estimator are given nothing.", "",
              "| network | MP/s | fastest layout | NCHW | channels_last | ours is | target |", "|---|---|---|---|---|---|---|"]
    for name, net in speed["networks"].items():
        label = f"**{model_name}** (this model)" if name == "ours" else DESCRIPTIONS.get(name, name)
        ratio = ours / net["mp_per_s"]
        target = targets.get(name)
        verdict = "" if target is None else f"≥ {target:g}×: {'met' if ratio >= target else '**missed**'}"
        by = net["by_layout"]
        lines.append(f"| {label} | {net['mp_per_s']:.3f} | {net['layout']} | {by.get('NCHW', 0):.3f} | "
                     f"{by.get('channels_last', 0):.3f} | {'—' if name == 'ours' else f'{ratio:.1f}× as fast'} | {verdict} |")
    return lines + [""]


def _before_the_layout_rule(speed: dict) -> list[str]:
    """A results.json timed before every network was timed in its fastest layout: its ratios are shown
    as they were measured, and said to be unfair."""
    lines = [f"- A DnCNN-architecture network (17×64, random weights, {speed.get('dncnn_layout', 'NCHW')}) on the same "
             f"image: {speed['dncnn_mp_per_s']:.3f} MP/s, so {speed['speedup_vs_dncnn']:.1f}× (our `denoise()` against its forward pass)."]
    for name, mp_per_s in (speed.get("peers") or {}).items():
        lines.append(f"- {name} through the same `denoise()` on the same image: {mp_per_s:.3f} MP/s.")
    return lines + ["- **Not layout-fair**: timed before every network was timed in its fastest memory layout (DnCNN",
                    "  ran in NCHW, ours in channels_last, which flatters ours). Re-time with",
                    "  `python -m benchmarks report --speed-only`."]
