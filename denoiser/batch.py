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
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, TextIO

from . import io as image_io
from .batch_plan import Job, Plan, PlanError, plan
from .batch_work import Outcome, Settings, compute, load, read, reason, resolve_model_source, settings_record, write
from .journal import FOLDER, JournalState, JournalWriter, read_state, sweep_temporaries
from .storage import FileEntry, LocalStorage, Storage, local_path, open_location

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
    from tqdm import tqdm

    the_plan = plan(request.inputs, request.lists, request.output, request.settings.format, request.glob)
    storage, out_path = open_location(the_plan.out_root)
    entries, outputs = _existing_outputs(the_plan, storage, out_path)
    state = JournalState() if the_plan.single_file else read_state(storage, out_path)
    if state.warning:
        print(f"warning: {state.warning}", file=sys.stderr)
    _check_targets(the_plan, outputs, state, request.overwrite, storage, out_path)

    source = resolve_model_source(request.model)
    model = load(source, request.runtime)
    record = settings_record(request.settings, model)
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
            sweep_temporaries(storage, out_path, entries, pending | state.planned | set(state.done))
        bar = tqdm(total=len(todo), desc="denoising", unit=" images", disable=len(todo) == 1, file=sys.stderr)
        recorder = _Recorder({job.target: job for job in the_plan.jobs}, journal, summary, record, storage, out_path,
                             stdout or sys.stdout, bar)
        try:
            _run_engine(request, todo, source, model, the_plan.out_root, record, recorder, tile_bar)
        finally:
            bar.close()
    if journal is not None:  # what killed Ray workers left behind (a retried task wrote again)
        sweep_temporaries(storage, out_path, storage.walk(out_path, hidden=True), pending)
    return summary


def _existing_outputs(the_plan: Plan, storage: Storage, out_path: str) -> tuple[list[FileEntry], dict[str, int]]:
    """(every file under OUT, hidden ones included, for the temporary-file sweep; {visible output:
    its size}). For a single file OUT's folder may be anywhere (a home folder): only that file is looked at."""
    if the_plan.single_file:
        target = storage.join(out_path, the_plan.jobs[0].target)
        return [], {the_plan.jobs[0].target: storage.stat(target).size} if storage.kind(target) else {}
    entries = list(storage.walk(out_path, hidden=True)) if storage.kind(out_path) == "dir" else []
    return entries, {e.rel: e.size for e in entries if not any(p.startswith(".") for p in e.rel.split("/"))}


@dataclass
class _Recorder:
    """What happens as each image finishes, called from the engine's threads: its journal line, the
    summary's count, a line on stdout and a step of the progress bar."""

    jobs: dict[str, Job]
    journal: JournalWriter | None
    summary: Summary
    record: dict
    storage: Storage
    out_path: str
    stdout: TextIO
    bar: Any
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, outcome: Outcome) -> None:
        job = self.jobs[outcome.target]
        with self.lock:
            if outcome.status == "done":
                if self.journal is not None:
                    self.journal.done({"target": job.target, "source": job.source, "size": job.size,
                                       "mtime_ns": job.mtime_ns, "settings": self.record,
                                       "output_size": outcome.output_size, "how": outcome.how})
                self.summary.done += 1
                self.bar.write(f"{job.source} -> {self.storage.display(self.storage.join(self.out_path, job.target))} "
                               f"({outcome.how})", file=self.stdout)
            else:
                if self.journal is not None:
                    self.journal.failed(job.target, job.source, outcome.reason)
                self.summary.failed.append((job.source, outcome.reason))
            self.bar.update(1)


def _run_engine(request: Request, todo: list[Job], source, model, out_root: str, record: dict,
                finished: Callable[[Outcome], None], tile_bar: TileBar | None) -> None:
    """The images of `todo` through the engine the request names; each outcome goes to `finished`."""
    if request.engine == "ray":
        from .ray_engine import run_ray

        run_ray(todo, source, request.runtime, request.settings, out_root, record, finished,
                address=request.address, workers=request.workers)
    else:
        run_local(todo, model, request.settings, out_root, finished, threads=request.workers or 2, tile_bar=tile_bar)


def _check_targets(the_plan: Plan, outputs: dict[str, int], state: JournalState, overwrite: bool,
                   storage, out_path: str) -> None:
    """Fail before loading a model or reading a photo: an output whose folder inside OUT is a link
    is refused (the write would land outside OUT); outputs that would replace files that are not
    ours (no run of ours planned them), a link in an output's place included, need --overwrite;
    and the folders must take files."""
    local = None if the_plan.single_file else local_path(storage, out_path)
    links, seen = set(), {}
    if local is not None:
        for job in the_plan.jobs + [Job("", "", f"{FOLDER}/x", "", 0, 0)]:  # the journal's folder too
            link = _link_below(local, job.target, seen)
            if link == job.target:
                links.add(job.target)  # replacing it replaces the link itself, never what it points to
            elif link is not None:
                raise PlanError(f"{storage.display(storage.join(out_path, link))} is a link inside OUT; "
                                f"the batch does not write through links (it would write {job.target} elsewhere)")
    foreign = [j.target for j in the_plan.jobs if (j.target in outputs or j.target in links) and not state.ours(j.target)]
    if foreign and not overwrite:
        first = storage.display(storage.join(out_path, foreign[0]))
        raise PlanError(f"{first} exists ({len(foreign)} output(s) would be replaced); pass --overwrite")
    if isinstance(storage, LocalStorage):
        for target in {storage.parent(storage.join(out_path, j.target)): j.target for j in the_plan.jobs}.values():
            image_io.check_writable(storage.join(out_path, target))


def _link_below(folder: str, target: str, seen: dict[str, bool]) -> str | None:
    """The first part of `target` (a path below `folder` with /) that is a symbolic link, as a path
    below `folder`; None when no part is one. `seen` remembers each part's answer across calls."""
    parts = target.split("/")
    for depth in range(1, len(parts) + 1):
        rel = "/".join(parts[:depth])
        if rel not in seen:
            seen[rel] = os.path.islink(os.path.join(folder, *parts[:depth]))
        if seen[rel]:
            return rel
    return None


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
