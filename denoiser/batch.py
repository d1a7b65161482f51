"""`denoiser denoise` over many photos: plan, skip what the journal says is done, run an engine, sum up.

The same for both engines: batch_plan finds the inputs and names the outputs; the journal
(denoiser.journal) in OUT says which outputs are already done with this model and these settings;
the engine denoises the rest (here: one process, decoding and encoding in threads while the
network runs in the main thread; denoiser.ray_engine: Ray Data actors), and every finished output
is recorded as it lands. The summary counts done, skipped and failed (each with its reason); the
caller exits non-zero when anything failed, after everything else was written.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, ContextManager, TextIO

from . import io as image_io
from .batch_plan import Job, Plan, PlanError, plan
from .batch_work import Outcome, Settings, compute, load, read, reason, resolve_model_source, settings_record, write
from .journal import JournalState, JournalWriter, read_state, sweep_temporaries
from .storage import LocalStorage, open_location

TileBar = Callable[[str], ContextManager[Callable[[int, int], None]]]


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)

    def lines(self) -> list[str]:
        head = f"done {self.done}, skipped {self.skipped} (already done), failed {len(self.failed)}"
        return [head] + [f"  {source}: {why}" for source, why in self.failed]


@dataclass(frozen=True)
class Request:
    """A `denoiser denoise` command, as the CLI parsed it."""

    inputs: list[str]
    output: str
    settings: Settings
    lists: list[str] = field(default_factory=list)
    glob: str | None = None
    model: str | None = None
    runtime: str = "torch"
    overwrite: bool = False
    engine: str = "local"  # or "ray"
    address: str | None = None  # Ray cluster; None: $RAY_ADDRESS, else a local Ray
    workers: int | None = None  # Ray actors (default: one per GPU, else one per CPU); local: I/O threads


def run(request: Request, stdout: TextIO | None = None, tile_bar: TileBar | None = None) -> Summary:
    """Denoise what `request` names; PlanError (and the io errors) for what must be fixed first.
    Prints a line per image to `stdout` (default sys.stdout) and a progress bar on stderr."""
    stdout = stdout or sys.stdout
    from tqdm import tqdm

    the_plan = plan(request.inputs, request.lists, request.output, request.settings.format, request.glob)
    storage, out_path = open_location(the_plan.out_root)
    if the_plan.single_file:  # OUT's folder may be anywhere (a home folder): look at the one file only
        entries, target = [], storage.join(out_path, the_plan.jobs[0].target)
        outputs = {the_plan.jobs[0].target: storage.stat(target).size} if storage.kind(target) else {}
    else:
        entries = list(storage.walk(out_path, hidden=True)) if storage.kind(out_path) == "dir" else []
        outputs = {e.rel: e.size for e in entries if not any(p.startswith(".") for p in e.rel.split("/"))}
    state = JournalState() if the_plan.single_file else read_state(storage, out_path)
    _check_targets(the_plan, outputs, state, request.overwrite, storage, out_path)

    source = resolve_model_source(request.model)
    model = load(source, request.runtime)
    record = settings_record(request.settings, model)
    jobs = {job.target: job for job in the_plan.jobs}
    todo = [j for j in the_plan.jobs if the_plan.single_file
            or not state.is_done(j.target, j.source, j.size, j.mtime_ns, record, outputs)]
    summary = Summary(skipped=len(the_plan.jobs) - len(todo), failed=list(the_plan.missing))
    if not todo:
        return summary

    journal = None if the_plan.single_file else JournalWriter(storage, out_path)
    pending = {j.target for j in todo}
    with journal or contextlib.nullcontext():
        if journal is not None:
            journal.planned((j.target, j.source) for j in todo)
            sweep_temporaries(storage, out_path, entries, lambda t: t in pending or state.ours(t))
        bar = tqdm(total=len(todo), desc="denoising", unit=" images", disable=len(todo) == 1, file=sys.stderr)
        lock = threading.Lock()

        def finished(outcome: Outcome) -> None:
            job = jobs[outcome.target]
            with lock:
                if outcome.status == "done":
                    if journal is not None:
                        journal.done({"target": job.target, "source": job.source, "size": job.size,
                                      "mtime_ns": job.mtime_ns, "settings": record,
                                      "output_size": outcome.output_size, "how": outcome.how})
                    summary.done += 1
                    bar.write(f"{job.source} -> {storage.display(storage.join(out_path, job.target))} "
                              f"({outcome.how})", file=stdout)
                else:
                    if journal is not None:
                        journal.failed(job.target, job.source, outcome.reason)
                    summary.failed.append((job.source, outcome.reason))
                bar.update(1)

        try:
            if request.engine == "ray":
                from .ray_engine import run_ray

                run_ray(todo, source, request.runtime, request.settings, the_plan.out_root, record, finished,
                        address=request.address, workers=request.workers)
            else:
                run_local(todo, model, request.settings, the_plan.out_root, finished,
                          threads=request.workers or 2, tile_bar=tile_bar)
        finally:
            bar.close()
    if journal is not None:  # what killed Ray workers left behind (a retried task wrote again)
        sweep_temporaries(storage, out_path, storage.walk(out_path, hidden=True), lambda t: t in pending)
    return summary


def _check_targets(the_plan: Plan, outputs: dict[str, int], state: JournalState, overwrite: bool,
                   storage, out_path: str) -> None:
    """Fail before loading a model or reading a photo: outputs that would replace files that are
    not ours (no run of ours planned them) need --overwrite, and the folders must take files."""
    foreign = [j.target for j in the_plan.jobs if j.target in outputs and not state.ours(j.target)]
    if foreign and not overwrite:
        first = storage.display(storage.join(out_path, foreign[0]))
        raise PlanError(f"{first} exists ({len(foreign)} output(s) would be replaced); pass --overwrite")
    if isinstance(storage, LocalStorage):
        for target in {storage.parent(storage.join(out_path, j.target)): j.target for j in the_plan.jobs}.values():
            image_io.check_writable(storage.join(out_path, target))


def run_local(jobs: list[Job], model, settings: Settings, out_root: str, finished: Callable[[Outcome], None],
              threads: int = 2, tile_bar: TileBar | None = None) -> None:
    """The network in this thread, one image after another; reading (decoding) runs `threads` images
    ahead and writing (encoding) `threads` behind in thread pools, so neither waits for the other.
    Memory is bounded: at most 2 * threads decoded images wait on each side."""
    depth = 2 * threads
    with ThreadPoolExecutor(threads, thread_name_prefix="denoiser-read") as readers, \
            ThreadPoolExecutor(threads, thread_name_prefix="denoiser-write") as writers:
        queue, reads, writes = iter(jobs), deque(), deque()

        def refill() -> None:
            while len(reads) < depth and (job := next(queue, None)) is not None:
                reads.append((job, readers.submit(read, job)))

        def write_one(job: Job, out, metadata, how: str) -> None:
            try:
                size = write(out, metadata, job.target, out_root, settings)
            except Exception as err:  # noqa: BLE001 - reported in the summary; the batch goes on
                finished(Outcome(job.target, "failed", reason(err)))
            else:
                finished(Outcome(job.target, "done", output_size=size, how=how))

        refill()
        while reads:
            job, decoded = reads.popleft()
            refill()
            try:
                image, metadata = decoded.result()
                with tile_bar(job.source.rsplit("/", 1)[-1]) if tile_bar else contextlib.nullcontext() as progress:
                    out, how = compute(image, model, settings, progress)
            except Exception as err:  # noqa: BLE001
                finished(Outcome(job.target, "failed", reason(err)))
                continue
            writes.append(writers.submit(write_one, job, out, metadata, how))
            while len(writes) > depth:
                writes.popleft().result()
