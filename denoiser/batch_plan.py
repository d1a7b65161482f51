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
from urllib.parse import quote, unquote, urlsplit

from . import io as image_io
from .storage import is_uri, local_path, open_location


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
    """Find every input and name its output; PlanError for what the user must fix first.
    Local paths are made absolute here, once: every later step (and a Ray worker in another
    working folder) sees the same locations."""
    found: list[tuple[str, str, str, int, int]] = []  # (root, rel, mirrored output path, size, mtime_ns)
    missing: list[tuple[str, str]] = []
    out = _absolute(out)
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
        the_plan = Plan([Job(root, rel, name, _source(root, rel), size, mtime)], parent, True, missing)
    else:
        if out_storage.kind(out_path) == "file":
            raise PlanError(f"{out}: exists and is not a folder; with several inputs OUT must be a folder")
        jobs = [Job(root, rel, _output_name(mirrored, requested_format), _source(root, rel), size, mtime)
                for root, rel, mirrored, size, mtime in found]
        _check_clashes(jobs)
        the_plan = Plan(jobs, out, False, missing)
    _check_inside_and_apart(the_plan)
    return the_plan


def _absolute(location: str) -> str:
    return location if is_uri(location) else os.path.abspath(os.path.expanduser(location))


def _check_inside_and_apart(the_plan: Plan) -> None:
    """Every output stays below OUT (a target is a plain relative path: no '..', no absolute path),
    and no output is one of the inputs (OUT = IN, or IN inside OUT, would denoise a photo in place
    and again on every rerun)."""
    for job in the_plan.jobs:
        parts = job.target.split("/")
        if job.target.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise PlanError(f"{job.source}: its output {job.target!r} would not be inside {the_plan.out_root}; "
                            "refusing to write outside OUT")
    inputs = {_identity(job.root, job.rel) for job in the_plan.jobs}
    for job in the_plan.jobs:
        if _identity(the_plan.out_root, job.target) in inputs:
            raise PlanError(f"{job.source}: its output would replace this input (OUT holds the inputs); "
                            "write into another folder")


def _identity(root: str, rel: str) -> str:
    """One spelling per file: the resolved path (links followed) of a local file, else the URI."""
    storage, path = open_location(root)
    full = storage.join(path, rel)
    local = local_path(storage, full)
    return os.path.realpath(local) if local is not None else storage.display(full)


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
    root = _absolute(item)
    storage, path = open_location(root)
    kind = storage.kind(path)
    if kind == "file":
        entry = storage.stat(path)
        return [(root, "", entry.rel, entry.size, entry.mtime_ns)]
    if kind != "dir":
        raise PlanError(f"{item}: no such file or folder")
    # an OUT inside IN (photos -o photos/clean) is left out of the walk, or a rerun would read its own
    # outputs; OUT = IN is refused, or every run would denoise the photos again
    skip, inside = None, None
    out_local, in_local = local_path(out_storage, out_path), local_path(storage, path)
    if out_local is not None and in_local is not None:  # links resolved: another spelling is the same folder
        inside = os.path.relpath(os.path.realpath(out_local), os.path.realpath(in_local)).replace(os.sep, "/")
    elif type(out_storage) is type(storage) and getattr(out_storage, "fs", None) == getattr(storage, "fs", None):
        inside = posixpath.relpath(out_path, path)
    if inside is not None:
        if inside == ".":
            raise PlanError(f"{item}: OUT is this input folder, and the outputs would replace the photos; "
                            "write into another folder")
        if inside != ".." and not inside.startswith("../"):
            skip = inside + "/"
    found = []
    for entry in storage.walk(path):
        if not _is_image_name(entry.rel) or (skip and entry.rel.startswith(skip)):
            continue
        if glob and not PurePosixPath(entry.rel.lower()).match(glob.lower()):
            continue
        found.append((root, entry.rel, entry.rel, entry.size, entry.mtime_ns))
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
        parsed = [_list_uri(list_file, e) for e in entries]
        heads = {head for head, _ in parsed}
        if len(heads) > 1:
            raise PlanError(f"{list_file}: names files in several stores ({', '.join(sorted(heads)[:3])}); "
                            "one list per store")
        head, paths = heads.pop(), [path for _, path in parsed]
    else:
        head, paths = "", [os.path.abspath(os.path.expanduser(e)) for e in entries]
    # every path is absolute, decoded and without . or .. by now, so each rel below stays below `shared`
    shared = posixpath.commonpath([posixpath.dirname(p) for p in paths])
    root = head + quote(shared) if head else shared  # a URI again: the store decodes it back to `shared`
    storage, root_path = open_location(root)
    found, missing = [], []
    for entry, path in zip(entries, paths):
        rel = posixpath.relpath(path, shared)
        full = storage.join(root_path, rel)
        if storage.kind(full) != "file":
            missing.append((entry, "no such file"))
        elif not _is_image_name(rel):
            missing.append((entry, f"not an image name (readable: {image_io.READABLE})"))
        else:
            info = storage.stat(full)
            found.append((root, rel, rel, info.size, info.mtime_ns))
    return found, missing


def _list_uri(list_file: str, entry: str) -> tuple[str, str]:
    """(scheme://host, the absolute path it names, percent-decoded) for a list's URI entry. A
    file:// path is normalised as the OS would resolve it; in an object store '..' is no folder,
    so an entry naming one is refused rather than guessed at."""
    parts = urlsplit(entry)
    path = unquote(parts.path)  # decoded before anything looks at its folders: %2e%2e is '..'
    if not path.startswith("/"):
        path = "/" + path
    if parts.scheme.lower() == "file":
        path = posixpath.normpath(path).replace("//", "/")
    elif any(part in (".", "..") for part in path.split("/")):
        raise PlanError(f"{list_file}: {entry} names a '.' or '..' folder; list the file by its own path")
    if parts.query or parts.fragment:
        raise PlanError(f"{list_file}: {entry} has a query or fragment (? or #); list plain file URIs")
    return f"{parts.scheme}://{parts.netloc}", path
