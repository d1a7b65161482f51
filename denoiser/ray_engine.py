"""`denoiser denoise --engine ray`: the batch on a Ray cluster (the `cluster` extra), through Ray Data.

The plan (denoiser.batch_plan) becomes a Ray dataset of jobs; `map_batches` with a class runs them
in actors that each load the model once (one actor per GPU where the cluster has GPUs, CPU actors
otherwise) and read, denoise and write each image with the same functions as the local engine
(denoiser.batch_work), so the bytes are the same. The driver, this process, journals each result
as it streams back (denoiser.batch). Ray Data restarts an actor whose process or node died and
retries its tasks (max_restarts and max_task_retries are unlimited for actor pools), so the run
completes; a job done twice rewrites the same bytes atomically. A killed driver loses at most the
journal records of results in flight: the rerun writes those outputs again and skips the rest.

RAY_ADDRESS or --address joins a cluster (`ray start --head` on one machine, `ray start
--address=HEAD:6379` on the others); without either, a Ray local to this machine is started.
Inputs and outputs must be reachable from every node: a shared folder, or a URI pyarrow reads.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict
from typing import Callable

from .batch_plan import Job
from .batch_work import Outcome, Settings, denoise_job, load, model_identity

_FIELDS = ("root", "rel", "target", "source", "size", "mtime_ns")


class DenoiseActor:
    """A Ray Data worker: loads the model once, then denoises the rows of each batch it is given."""

    def __init__(self, model: str, runtime: str, settings: dict, out_root: str, weights_sha256: str,
                 threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        device = "cuda" if runtime == "torch" and torch.cuda.is_available() else "cpu"
        self.model = load(model, runtime, device)
        found = model_identity(self.model)["weights_sha256"]
        if found != weights_sha256:  # the journal records the driver's model: refuse to write another's results
            raise RuntimeError(f"{model}: this worker loaded other weights (SHA-256 {found[:12]}...) than the "
                               f"driver ({weights_sha256[:12]}...); make the same model reachable on every node")
        self.settings, self.out_root = Settings(**settings), out_root

    def __call__(self, batch: dict) -> dict:
        rows = [dict(zip(batch, values)) for values in zip(*(batch[k] for k in batch))]
        outcomes = []
        for row in rows:
            job = Job(**{k: (int(row[k]) if k in ("size", "mtime_ns") else str(row[k])) for k in _FIELDS})
            outcomes.append(denoise_job(job, self.model, self.settings, self.out_root))
        return {name: [getattr(o, name) for o in outcomes] for name in ("target", "status", "reason", "output_size", "how")}


def run_ray(jobs: list[Job], model: str, runtime: str, settings: Settings, out_root: str, record: dict,
            finished: Callable[[Outcome], None], address: str | None = None, workers: int | None = None) -> None:
    """Denoise `jobs` on Ray; finished(outcome) is called in this process as each result arrives."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ValueError('--engine ray needs Ray Data: pip install "denoiser[cluster]"') from None

    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours (images/s, ETA) is on stderr already
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled": we know

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
    size = workers or gpus or cpus
    per_actor = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
    threads = 1 if not gpus else max(1, cpus // max(size, 1))
    # small blocks: a result reaches the driver (and the journal) when its block is done, and a
    # retried block redoes only its own rows
    blocks = min(len(jobs), max(8 * size, math.ceil(len(jobs) / 16)))
    dataset = ray.data.from_items([{k: getattr(job, k) for k in _FIELDS} for job in jobs], override_num_blocks=blocks)
    results = dataset.map_batches(
        DenoiseActor, batch_size=1, compute=ray.data.ActorPoolStrategy(size=size), **per_actor,
        fn_constructor_kwargs={"model": model, "runtime": runtime, "settings": asdict(settings),
                               "out_root": out_root, "weights_sha256": record["weights_sha256"], "threads": threads})
    for row in results.iter_rows():
        finished(Outcome(str(row["target"]), str(row["status"]), str(row["reason"]), int(row["output_size"]),
                         str(row["how"])))
