"""What every card's measurements share: the inputs of a report, and `Recorder`, which runs
`evaluate()` for one section of results.json (and the speed section) and prints each record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from denoiser.evaluate import evaluate
from denoiser.hub import load_model
from denoiser_train.init_sources import resolved

from .benchmark import measure_throughput, photo_in_fresh_process

SIGMAS = (15, 25, 50)  # the AWGN levels every card reports
TUNING_GRID = (2, 4, 6, 8, 12, 16, 24)


@dataclass
class ReportInputs:
    model_source: str | None
    data: Path
    seed_models: tuple[str, ...] = ()  # the paper's network, one row per trained recipe (Gaussian card)
    compare: tuple[str, ...] = ()  # other models scored beside it on the real-noise sets
    limit: int | None = None
    peers: tuple[str, ...] = ()  # NAME=PATH: another group's trained model run on the same noisy inputs
    adapted: tuple[str, ...] = ()  # adapt runs on a test set's own noisy images: the card's "adapted" protocol


class Recorder:
    """Runs `evaluate()` for one section of results.json and prints each record as it lands."""

    def __init__(self, out: dict, limit: int | None, progress=print) -> None:
        self.out, self.limit, self.progress = out, limit, progress

    def __call__(self, section: str, method, **kwargs) -> None:
        records = evaluate(method, limit=self.limit, **kwargs)
        self.out.setdefault(section, []).extend(r.summary() for r in records)
        for r in records:
            self.progress(f"{section}: {r.method} {r.dataset} sigma={r.sigma} PSNR {r.psnr:.2f} SSIM {r.ssim:.4f}")

    def best_per_image(self, section: str, method, *, strengths=(1.0,), sigmas=None, **kwargs) -> None:
        """`method` at each strength (or given each sigma), and for every image the value that scored
        best: how far strength 1 (or the estimate) is from the best setting. Recorded as
        {"values", "best" (per image), "mean_best", "psnr", "ssim" (means at each image's best)}."""
        if sigmas is not None:
            records = evaluate(method, limit=self.limit, sigmas=sigmas, **kwargs)
            values = list(sigmas)
        else:
            records = [evaluate(method, limit=self.limit, strength=s, **kwargs)[0] for s in strengths]
            values = list(strengths)
        scores = [[r.per_image[i]["psnr"] for r in records] for i in range(records[0].n)]
        best = [int(max(range(len(values)), key=row.__getitem__)) for row in scores]
        self.out[section] = {
            "method": records[0].method.split(" strength")[0], "values": values,
            "best": [values[b] for b in best], "mean_best": sum(values[b] for b in best) / len(best),
            "psnr": sum(row[b] for row, b in zip(scores, best)) / len(best),
            "ssim": sum(records[b].per_image[i]["ssim"] for i, b in enumerate(best)) / len(best),
            "per_value_psnr": [r.psnr for r in records],
        }
        self.progress(f"{section}: best per image {self.out[section]['best']} (mean {self.out[section]['mean_best']:.2f}), "
                      f"PSNR {self.out[section]['psnr']:.2f}")

    def tuned_on_train(self, section: str, pairs: Path, methods: tuple[str, ...]) -> None:
        """Each classical method at the strength (sigma) that scores best on the train scenes of
        `pairs`, then scored on its test scenes; the chosen strengths go to polyu_tuned_sigma."""
        tuned = self.out.setdefault("polyu_tuned_sigma", {})
        for method in methods:
            tuning = evaluate(method, pairs=pairs, split="train", sigmas=TUNING_GRID, limit=self.limit)
            tuned[method] = max(tuning, key=lambda r: r.psnr).sigma
            self(section, method, pairs=pairs, split="test", sigmas=(tuned[method],))

    def speed(self, model, source: str | None, peers: list = ()) -> None:
        """The speed section: ours through denoise(), then every network (ours, DnCNN, the peers) on
        the same image in its fastest layout (benchmark.measure_throughput), then a 12 MP photo."""
        speed = measure_throughput(model, peers=peers)
        speed["photo"] = photo_in_fresh_process(source)
        self.out["speed"] = speed
        layouts = ", ".join(f"{name} {net['mp_per_s']:.3f} MP/s ({net['layout']})" for name, net in speed["networks"].items())
        self.progress(f"speed: {speed['mp_per_s']:.3f} MP/s through denoise(); networks: {layouts}; "
                      f"12 MP in {speed['photo']['seconds']:.1f} s, peak {speed['photo']['peak_memory_gb']:.2f} GB")


def compared_models(sources: tuple[str, ...]) -> list:
    """The --compare models: each a folder, a Hub id or `NAME@REVISION` (the shipped NAME at a git
    revision of this clone, as --init reads it, so a recorded command can be rerun from any clone),
    optionally `LABEL=` first. Named in the tables by LABEL, else by its folder (not its full path)."""
    models = []
    for item in sources:
        label, sep, source = item.partition("=")
        if not sep or not label or Path(item).exists():  # a folder with "=" in its name is a folder
            label, source = "", item
        with resolved(source) as path:  # NAME@REVISION: a temporary folder, gone once loaded
            model = load_model(path)
        model.name = label or Path(source).name or source
        models.append(model)
    return models
