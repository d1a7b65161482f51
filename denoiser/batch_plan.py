"""Which files a `denoiser denoise` run reads and what it names each output: the plan both engines run.

IN arguments are image files and folders (walked recursively, hidden files and folders skipped,
`--glob` filtering what a walk finds); `--from-list FILE` adds the image files a text file names,
one per line. Outputs mirror where the inputs were found:

    IN a file                   OUT/its name
    IN a folder                 OUT/its path inside that folder
    an entry of a list          OUT/its path inside the deepest folder all entries share

and each takes the suffix of the format chosen (io.choose_format: by default the input's own).
One input and an OUT with an image suffix (x.png, x.heic) make OUT the file itself. Paths may be
URIs that pyarrow reaches (s3://bucket/photos); see denoiser.storage.
"""

from __future__ import annotations

import os
import posixpath
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote

from . import io as image_io
from .storage import is_uri, open_location


class PlanError(ValueError):
    """A request that cannot be planned (a missing input, clashing output names); one line."""


@dataclass(frozen=True)
class Job:
    """One input and its output. root + rel locate the input (rel '' when root is the file);
    target is the output's path under OUT with / (in file mode: the output file's name)."""

    root: str  # an IN argument or a list's shared folder, as a location (path or URI)
    rel: str
    target: str
    source: str  # the input's full location, as the journal and messages name it
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    out_root: str  # the folder the targets are relative to (OUT, or OUT's folder in file mode)
    single_file: bool  # OUT names the one output file: no journal
    missing: list[tuple[str, str]]  # (list entry, reason): inputs that cannot even be found


def plan(inputs: list[str], lists: list[str], out: str, requested_format: str, glob: str | None = None) -> Plan:
    """Find every input and name its output; PlanError for what the user must fix first."""
    found: list[tuple[str, str, str, int, int]] = []  # (root, rel, mirrored output path, size, mtime_ns)
    missing: list[tuple[str, str]] = []
    out_storage, out_path = open_location(out)
    for item in inputs:
        found += _from_argument(item, glob, out_storage, out_path)
    for list_file in lists:
        entries, absent = _from_list(list_file)
        found += entries
        missing += absent
    if not found and not missing:
        raise PlanError("no images to denoise")
    single = len(found) == 1 and not lists and image_io.format_of(out) is not None
    if single:
        chosen = image_io.format_of(out)
        if requested_format != "same" and chosen in image_io.OUTPUT_FORMATS and requested_format != chosen:
            raise PlanError(f"{out}: the name asks for {chosen.upper()} but --format {requested_format} was given; "
                            "drop one")
        root, rel, _, size, mtime = found[0]
        parent, name = out.rstrip("/").rsplit("/", 1) if is_uri(out) else os.path.split(out_path)
        return Plan([Job(root, rel, name, _source(root, rel), size, mtime)], parent, True, missing)
    if out_storage.kind(out_path) == "file":
        raise PlanError(f"{out}: exists and is not a folder; with several inputs OUT must be a folder")
    jobs = [Job(root, rel, _output_name(mirrored, requested_format), _source(root, rel), size, mtime)
            for root, rel, mirrored, size, mtime in found]
    _check_clashes(jobs)
    return Plan(jobs, out, False, missing)


def _source(root: str, rel: str) -> str:
    storage, path = open_location(root)
    return storage.display(storage.join(path, rel))


def _output_name(mirrored: str, requested: str) -> str:
    """The output's path: the input's, with the suffix of the chosen format where that differs."""
    folder, _, name = mirrored.rpartition("/")
    source_format = image_io.format_of(name)
    chosen = image_io.choose_format(requested, source_format)
    if chosen != source_format:
        name = posixpath.splitext(name)[0] + image_io.OUTPUT_FORMATS[chosen]
    return f"{folder}/{name}" if folder else name


def _check_clashes(jobs: list[Job]) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for job in jobs:
        if job.target in seen:
            clashes.append(f"{seen[job.target]} and {job.source} -> {job.target}")
        seen[job.target] = job.source
    if clashes:
        raise PlanError(f"several inputs would be written to the same output ({'; '.join(clashes[:3])}); "
                        "denoise them into separate folders")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(image_io.READ_SUFFIXES)


def _from_argument(item: str, glob: str | None, out_storage, out_path: str) -> list[tuple[str, str, str, int, int]]:
    storage, path = open_location(item)
    kind = storage.kind(path)
    if kind == "file":
        entry = storage.stat(path)
        return [(item, "", entry.rel, entry.size, entry.mtime_ns)]
    if kind != "dir":
        raise PlanError(f"{item}: no such file or folder")
    # an OUT inside IN (photos -o photos/clean) is left out of the walk, or a rerun would read its own outputs
    inside = posixpath.relpath(out_path, path) if type(out_storage) is type(storage) else None
    skip = None if inside is None or inside.startswith("..") or inside == "." else inside.replace(os.sep, "/") + "/"
    found = []
    for entry in storage.walk(path):
        if not _is_image_name(entry.rel) or (skip and entry.rel.startswith(skip)):
            continue
        if glob and not PurePosixPath(entry.rel.lower()).match(glob.lower()):
            continue
        found.append((item, entry.rel, entry.rel, entry.size, entry.mtime_ns))
    if not found:
        raise PlanError(f"{item}: no images in this folder" + (f" matching {glob!r}" if glob else ""))
    return found


def _from_list(list_file: str) -> tuple[list[tuple[str, str, str, int, int]], list[tuple[str, str]]]:
    """The files a list names (one per line; blank lines and # comments skipped), relative to the
    deepest folder they share; entries that are not there come back as (entry, reason)."""
    try:
        text = sys.stdin.read() if list_file == "-" else open(list_file, encoding="utf-8").read()
    except OSError as err:
        raise PlanError(f"{list_file}: cannot read the list ({err.strerror or err})") from None
    entries = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not entries:
        raise PlanError(f"{list_file}: the list names no files")
    uris = {is_uri(e) for e in entries}
    if len(uris) > 1:
        raise PlanError(f"{list_file}: mixes URIs and plain paths; list one kind")
    if uris == {True}:
        heads = {e.split("://", 1)[0] + "://" + e.split("://", 1)[1].split("/", 1)[0] for e in entries}
        if len(heads) > 1:
            raise PlanError(f"{list_file}: names files in several stores ({', '.join(sorted(heads)[:3])}); "
                            "one list per store")
        head = heads.pop()
        paths = ["/" + e[len(head):].lstrip("/") for e in entries]
    else:
        head, paths = "", [os.path.abspath(os.path.expanduser(e)) for e in entries]
    shared = posixpath.commonpath([posixpath.dirname(p) for p in paths])
    root = head + shared.rstrip("/") if head else shared
    storage, root_path = open_location(root or "/")
    found, missing = [], []
    for entry, path in zip(entries, paths):
        rel = path[len(shared):].lstrip("/")
        rel = unquote(rel) if head else rel  # a URI's %20 is a space in the store's own paths
        full = storage.join(root_path, rel)
        if storage.kind(full) != "file":
            missing.append((entry, "no such file"))
        elif not _is_image_name(rel):
            missing.append((entry, f"not an image name (readable: {image_io.READABLE})"))
        else:
            info = storage.stat(full)
            found.append((root, rel, rel, info.size, info.mtime_ns))
    return found, missing
