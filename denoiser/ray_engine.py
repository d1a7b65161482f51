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

import contextlib
import logging
import math
import os
from dataclasses import asdict
from typing import Callable, Iterator

from .batch_plan import Job
from .batch_work import Outcome, Settings, denoise_job, load, model_identity

_FIELDS = ("root", "rel", "target", "source", "size", "mtime_ns")
_IDENTITY = ("weights_sha256", "config_sha256", "code_sha256")  # batch_work.model_identity: what decides outputs


class DenoiseActor:
    """A Ray Data worker: loads the model once, then denoises the rows of each batch it is given."""

    def __init__(self, model: str, runtime: str, settings: dict, out_root: str, identity: dict,
                 threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        device = "cuda" if runtime == "torch" and torch.cuda.is_available() else "cpu"
        self.model = load(model, runtime, device)
        found = model_identity(self.model)
        # the journal records the driver's model and code: refuse to write another's results
        differ = [key for key in _IDENTITY if found.get(key) != identity.get(key)]
        if differ:
            raise RuntimeError(f"{model}: this worker has another {', '.join(differ)} than the driver "
                               f"({found[differ[0]][:12]}... against {identity[differ[0]][:12]}...); make the same "
                               "model and denoiser version reachable on every node")
        self.settings, self.out_root = Settings(**settings), out_root

    def __call__(self, batch: dict) -> dict:
        rows = [dict(zip(batch, values)) for values in zip(*(batch[k] for k in batch))]
        outcomes = []
        for row in rows:
            job = Job(**{k: (int(row[k]) if k in ("size", "mtime_ns") else str(row[k])) for k in _FIELDS})
            outcomes.append(denoise_job(job, self.model, self.settings, self.out_root))
        return {name: [getattr(o, name) for o in outcomes] for name in ("target", "status", "reason", "output_size", "how")}


# Ray Data's own progress bars and start-of-run lines, and its loggers' chatter: ours (images/s,
# ETA) is on stderr already. Set for one run only, then put back as they were.
_QUIET_CONTEXT = {"enable_progress_bars": False, "print_on_execution_start": False}
_QUIET_LOGGERS = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}


@contextlib.contextmanager
def quiet(context) -> Iterator[None]:
    """Ray Data quiet for the duration: `context` (a DataContext) and Ray Data's loggers are set
    as _QUIET_CONTEXT and _QUIET_LOGGERS say and restored afterwards, so a program that called
    us keeps its own settings."""
    saved = {name: getattr(context, name) for name in _QUIET_CONTEXT}
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    try:
        for name, value in _QUIET_CONTEXT.items():
            setattr(context, name, value)
        for name, level in _QUIET_LOGGERS.items():
            logging.getLogger(name).setLevel(level)
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def run_ray(jobs: list[Job], model: str, runtime: str, settings: Settings, out_root: str, record: dict,
            finished: Callable[[Outcome], None], address: str | None = None, workers: int | None = None) -> None:
    """Denoise `jobs` on Ray; finished(outcome) is called in this process as each result arrives."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ValueError('--engine ray needs Ray Data: pip install "denoiser[cluster]"') from None

    started = not ray.is_initialized()
    ray_level = logging.getLogger("ray").level
    if started:  # ours for this run only: shut down, and Ray's logger put back, when it ends
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False)
    try:
        with quiet(ray.data.DataContext.get_current()):
            _run(ray, jobs, model, runtime, settings, out_root, record, finished, workers)
    finally:
        if started:
            ray.shutdown()
            logging.getLogger("ray").setLevel(ray_level)


def _run(ray, jobs: list[Job], model: str, runtime: str, settings: Settings, out_root: str, record: dict,
         finished: Callable[[Outcome], None], workers: int | None) -> None:
    """run_ray's work, with Ray started and quiet: one actor pool over the jobs."""
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
                               "out_root": out_root, "identity": {k: record[k] for k in _IDENTITY},
                               "threads": threads})
    for row in results.iter_rows():
        finished(Outcome(str(row["target"]), str(row["status"]), str(row["reason"]), int(row["output_size"]),
                         str(row["how"])))
