"""What every card's measurements share: the inputs of a report, and `Recorder`, which runs
`evaluate()` for one section of results.json (and the speed section) and prints each record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from denoiser.evaluate import evaluate
from denoiser.hub import load_model

from .benchmark import measure_throughput, peer_throughput, photo_in_fresh_process

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


class Recorder:
    """Runs `evaluate()` for one section of results.json and prints each record as it lands."""

    def __init__(self, out: dict, limit: int | None, progress=print) -> None:
        self.out, self.limit, self.progress = out, limit, progress

    def __call__(self, section: str, method, **kwargs) -> None:
        records = evaluate(method, limit=self.limit, **kwargs)
        self.out.setdefault(section, []).extend(r.summary() for r in records)
        for r in records:
            self.progress(f"{section}: {r.method} {r.dataset} sigma={r.sigma} PSNR {r.psnr:.2f} SSIM {r.ssim:.4f}")

    def tuned_on_train(self, section: str, pairs: Path, methods: tuple[str, ...]) -> None:
        """Each classical method at the strength (sigma) that scores best on the train scenes of
        `pairs`, then scored on its test scenes; the chosen strengths go to polyu_tuned_sigma."""
        tuned = self.out.setdefault("polyu_tuned_sigma", {})
        for method in methods:
            tuning = evaluate(method, pairs=pairs, split="train", sigmas=TUNING_GRID, limit=self.limit)
            tuned[method] = max(tuning, key=lambda r: r.psnr).sigma
            self(section, method, pairs=pairs, split="test", sigmas=(tuned[method],))

    def speed(self, model, source: str | None, peers: list = ()) -> None:
        speed = measure_throughput(model)
        if peers:  # straight after ours, on the same image: the machine's speed drifts between runs
            # both through the same call with sigma 25 given, so neither pays for estimating it
            speed["ours_given_sigma_mp_per_s"] = peer_throughput(model)
            speed["peers"] = {peer.name: peer_throughput(peer) for peer in peers}
        speed["photo"] = photo_in_fresh_process(source)
        self.out["speed"] = speed
        self.progress(f"speed: {speed['mp_per_s']:.3f} MP/s, DnCNN {speed['dncnn_mp_per_s']:.3f} MP/s, "
                      f"12 MP in {speed['photo']['seconds']:.1f} s, peak {speed['photo']['peak_memory_gb']:.2f} GB")



def compared_models(sources: tuple[str, ...]) -> list:
    """The --compare models, each named by its folder (not its full path) in the tables."""
    models = []
    for source in sources:
        model = load_model(source)
        model.name = Path(source).name or source
        models.append(model)
    return models
