"""The run journal of a batch: what has been written into an output folder, so a rerun skips it.

JSON lines in OUT/.denoiser-journal/, one file per run (stores that cannot append, such as S3, get
a new segment per flush instead). Two kinds of line:

    {"event": "planned", "target": "2023/a.jpg", "source": "/photos/2023/a.jpg"}
    {"event": "done", "target": ..., "source": ..., "size": 123, "mtime_ns": ..., "settings": {...},
     "output_size": 456, "how": "..."}

"planned" is written, for every output a run is about to write, before any of them: an output
file that exists and was planned by some run is ours to replace, one that was not is the user's
and needs --overwrite. "done" is written after the output is in place (renamed and its folder
fsynced), so a record never names a file that is not there; a kill between the two leaves an
output without a record, which the rerun writes again (the same bytes) instead of losing.
An output counts as done when its last "done" record names the same source with the same size
and mtime, the same model and settings, and the file is there at the recorded size: a changed
photo, another model or setting, or a deleted output is denoised again.

A killed write can leave a hidden temporary file beside its target (files.temporary_name: one
name shape for every writer); each run removes those in the folders of its outputs before it
starts and after it ends. A line that cannot be read (torn by a kill, or garbled) is skipped with
one warning naming the journal file: the output it recorded is simply denoised again. One run at a time writes
into a local folder (a lock file); object stores have no lock, so do not start two at once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Iterable

from .files import is_temporary
from .storage import FileEntry, Storage

FOLDER = ".denoiser-journal"


class JournalBusy(RuntimeError):
    """Another run is writing into the same output folder."""


@dataclass
class JournalState:
    """What the journal's files say: the last "done" record of each output, and every output planned."""

    done: dict[str, dict] = field(default_factory=dict)
    planned: set[str] = field(default_factory=set)
    warning: str | None = None  # lines that could not be read, in one sentence naming the journal

    def ours(self, target: str) -> bool:
        """True when some run of ours planned or wrote `target` (so replacing it needs no --overwrite)."""
        return target in self.planned or target in self.done

    def is_done(self, target: str, source: str, size: int, mtime_ns: int, settings: dict,
                outputs: dict[str, int]) -> bool:
        """True when `target` holds this source, unchanged, denoised with these settings."""
        record = self.done.get(target)
        return (record is not None and record.get("source") == source and record.get("size") == size
                and record.get("mtime_ns") == mtime_ns and record.get("settings") == settings
                and outputs.get(target) == record.get("output_size"))


def _parse(line: str) -> dict | None:
    """One journal line as a record, None for a line that is not one (torn, garbled, hostile)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # bad JSON; an integer past Python's digit limit; deep nesting
        return None
    return record if isinstance(record, dict) and isinstance(record.get("target"), str) else None


def read_state(storage: Storage, out: str) -> JournalState:
    """Every line of every journal file under `out`. Lines that cannot be read (a torn last line
    from a kill, or a garbled one) are skipped, so the outputs they recorded count as not done
    and are denoised again; state.warning says so, naming the journal file."""
    state = JournalState()
    folder = storage.join(out, FOLDER)
    if storage.kind(folder) != "dir":
        return state
    names = sorted(e.rel for e in storage.walk(folder, hidden=True) if e.rel.endswith(".jsonl") and "/" not in e.rel)
    unreadable: dict[str, int] = {}
    for name in names:
        for line in storage.read_bytes(storage.join(folder, name)).decode("utf-8", "replace").splitlines():
            record = _parse(line) if line.strip() else {}
            if record is None:
                unreadable[name] = unreadable.get(name, 0) + 1
            if not record:
                continue
            if record.get("event") == "planned":
                state.planned.add(record["target"])
            elif record.get("event") == "done":
                state.done[record["target"]] = record
    if unreadable:
        first = storage.display(storage.join(folder, next(iter(unreadable))))
        state.warning = (f"{first}: skipped {sum(unreadable.values())} unreadable journal line(s)"
                         + (f" (and lines in {len(unreadable) - 1} other journal file(s))" if len(unreadable) > 1 else "")
                         + "; what they recorded is denoised again")
    return state


class JournalWriter:
    """Appends this run's records; every "done" is durable (fsynced, or a whole segment) when
    `done()` returns on a local folder, and after `flush()` on an object store."""

    def __init__(self, storage: Storage, out: str, flush_every: float = 2.0) -> None:
        self.storage, self.folder = storage, storage.join(out, FOLDER)
        storage.makedirs(self.folder)
        self.run_id = f"{time.time_ns():020d}-{os.getpid()}"
        self._lock = None
        self._handle = None
        self._pending: list[bytes] = []
        self._segment, self._flushed_at, self.flush_every = 0, time.monotonic(), flush_every
        if storage.appendable:
            self._lock = _lock(os.path.join(self.folder, "lock"))
            self._handle = storage.open_append(storage.join(self.folder, f"{self.run_id}.jsonl"))

    def planned(self, records: Iterable[tuple[str, str]]) -> None:
        """(target, source) of every output this run will write, in one durable write."""
        self._write([{"event": "planned", "target": t, "source": s} for t, s in records], force=True)

    def done(self, record: dict) -> None:
        self._write([{"event": "done", **record}])

    def failed(self, target: str, source: str, reason: str) -> None:
        """For the person reading the journal; a rerun tries a failed input again."""
        self._write([{"event": "failed", "target": target, "source": source, "reason": reason}])

    def _write(self, records: list[dict], force: bool = False) -> None:
        lines = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records]
        if self._handle is not None:
            self._handle.write(b"".join(lines))
            self._handle.flush()
            os.fsync(self._handle.fileno())
            return
        self._pending += lines
        if force or time.monotonic() - self._flushed_at >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Object stores: write what is pending as a new segment (each one whole or absent)."""
        if self._handle is None and self._pending:
            name = f"{self.run_id}-{self._segment:06d}.jsonl"
            self.storage.write_bytes(self.storage.join(self.folder, name), b"".join(self._pending))
            self._pending, self._segment = [], self._segment + 1
        self._flushed_at = time.monotonic()

    def close(self) -> None:
        self.flush()
        if self._handle is not None:
            self._handle.close()
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _lock(path: str) -> int:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalBusy(f"{os.path.dirname(os.path.dirname(path))}: another denoiser run is writing into "
                          "this folder; wait for it to finish") from None
    return fd


def sweep_temporaries(storage: Storage, out: str, entries: Iterable[FileEntry], targets: Iterable[str]) -> int:
    """Remove the temporary files that interrupted writes left under `out`: files named as
    files.temporary_name names them, in a folder where one of our `targets` (paths under `out`
    with /) lives. `entries`: a walk of `out` with hidden files. Returns how many were removed."""
    folders = {target.rpartition("/")[0] for target in targets}
    removed = 0
    for entry in entries:
        folder, _, name = entry.rel.rpartition("/")
        if folder in folders and is_temporary(name):
            storage.remove(storage.join(out, entry.rel))
            removed += 1
    return removed
