"""Where a batch's inputs and outputs live: a local folder, or any filesystem pyarrow reaches.

Batch denoising (denoiser.batch, denoiser.ray_engine) lists, reads and writes through this one
small interface, so the same planning, journal and writing code serves a folder on this disk and
a bucket (`s3://...`, `gs://...`, `hdfs://...`, `file:///...`). A plain path uses the os module
(no pyarrow needed); a location with a scheme goes through `pyarrow.fs` (the `cluster` extra),
which picks the store from the URI: no code here knows one store from another.

Images are read and written by denoiser.io, always from and to a local file: a remote input is
copied to a temporary file first, and a remote output is encoded into one and then uploaded
under a hidden temporary name and moved into place (an object store's copy is whole or absent),
so both engines produce the same bytes through the same `write_image`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from . import io as image_io
from .files import fsync_directory, temporary_name
from .metadata import Metadata

@dataclass(frozen=True)
class FileEntry:
    """A file found by `walk`: its path relative to the folder walked (with /), size in bytes and mtime."""

    rel: str
    size: int
    mtime_ns: int


class Storage(Protocol):
    """What batch denoising needs of a filesystem. Paths are in the storage's own form (absolute
    local paths; pyarrow's bucket/key paths), joined with `join`."""

    appendable: bool  # True: the journal appends to one file; False (object stores): it writes new segments

    def kind(self, path: str) -> str | None: ...  # "file", "dir" or None (absent)
    def stat(self, path: str) -> FileEntry: ...
    def walk(self, folder: str, hidden: bool = False) -> Iterator[FileEntry]: ...
    def join(self, folder: str, rel: str) -> str: ...
    def parent(self, path: str) -> str: ...
    def local_file(self, path: str) -> contextlib.AbstractContextManager[Path]: ...
    def write_image(self, path: str, array: np.ndarray, metadata: Metadata, quality: int) -> int: ...
    def write_bytes(self, path: str, data: bytes) -> None: ...
    def read_bytes(self, path: str) -> bytes: ...
    def remove(self, path: str) -> None: ...
    def makedirs(self, path: str) -> None: ...
    def display(self, path: str) -> str: ...


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


class LocalStorage:
    """This machine's files, through the os module and denoiser.files' atomic writer."""

    appendable = True

    def kind(self, path: str) -> str | None:
        return "dir" if os.path.isdir(path) else "file" if os.path.isfile(path) else None

    def stat(self, path: str) -> FileEntry:
        info = os.stat(path)
        return FileEntry(os.path.basename(path), info.st_size, info.st_mtime_ns)

    def walk(self, folder: str, hidden: bool = False) -> Iterator[FileEntry]:
        """Every file under `folder`, in sorted order; hidden files and folders only with hidden=True."""
        for top, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if hidden or not d.startswith("."))
            for name in sorted(files):
                if not hidden and name.startswith("."):
                    continue
                path = os.path.join(top, name)
                try:
                    info = os.stat(path)
                except OSError:  # removed while we walked
                    continue
                rel = os.path.relpath(path, folder).replace(os.sep, "/")
                yield FileEntry(rel, info.st_size, info.st_mtime_ns)

    def join(self, folder: str, rel: str) -> str:
        return os.path.join(folder, *rel.split("/")) if rel else folder

    def parent(self, path: str) -> str:
        return os.path.dirname(path)

    @contextlib.contextmanager
    def local_file(self, path: str) -> Iterator[Path]:
        yield Path(path)

    def write_image(self, path: str, array: np.ndarray, metadata: Metadata, quality: int) -> int:
        """denoiser.io.write_image (atomic: temporary file, fsync, rename); returns the size written."""
        image_io.write_image(path, array, metadata, quality=quality)
        return os.stat(path).st_size

    def write_bytes(self, path: str, data: bytes) -> None:
        from .files import atomic_write_bytes

        atomic_write_bytes(path, data)

    def read_bytes(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def display(self, path: str) -> str:
        return path

    def open_append(self, path: str):
        """A journal segment to append lines to (created, and its folder entry made durable)."""
        created = not os.path.exists(path)
        handle = open(path, "ab")
        if created:
            fsync_directory(os.path.dirname(path))
        return handle


class ArrowStorage:
    """Any filesystem `pyarrow.fs.FileSystem.from_uri` understands (s3://, gs://, hdfs://, file://)."""

    appendable = False  # object stores cannot append: the journal writes whole segments instead

    def __init__(self, filesystem, scheme: str) -> None:
        self.fs, self.scheme = filesystem, scheme

    def kind(self, path: str) -> str | None:
        from pyarrow.fs import FileType

        kind = self.fs.get_file_info(path).type
        return {FileType.Directory: "dir", FileType.File: "file"}.get(kind)

    def stat(self, path: str) -> FileEntry:
        info = self.fs.get_file_info(path)
        return FileEntry(info.base_name, info.size, _mtime_ns(info))

    def walk(self, folder: str, hidden: bool = False) -> Iterator[FileEntry]:
        from pyarrow.fs import FileSelector, FileType

        infos = self.fs.get_file_info(FileSelector(folder, recursive=True, allow_not_found=True))
        base = folder.rstrip("/") + "/"
        entries = []
        for info in infos:
            rel = info.path[len(base):] if info.path.startswith(base) else info.path
            if info.type == FileType.File and (hidden or not _hidden(rel)):
                entries.append(FileEntry(rel, info.size, _mtime_ns(info)))
        yield from sorted(entries, key=lambda e: e.rel)

    def join(self, folder: str, rel: str) -> str:
        return posixpath.join(folder, rel) if rel else folder

    def parent(self, path: str) -> str:
        return posixpath.dirname(path.rstrip("/"))

    @contextlib.contextmanager
    def local_file(self, path: str) -> Iterator[Path]:
        """A temporary local copy (same suffix: the 16-bit readers look at it), deleted afterwards."""
        with tempfile.TemporaryDirectory(prefix="denoiser-in-") as folder:
            local = Path(folder) / ("input" + posixpath.splitext(path)[1])
            local.write_bytes(self.read_bytes(path))
            yield local

    def write_image(self, path: str, array: np.ndarray, metadata: Metadata, quality: int) -> int:
        """Encode with denoiser.io.write_image into a local temporary file, then upload it."""
        with tempfile.TemporaryDirectory(prefix="denoiser-out-") as folder:
            local = Path(folder) / posixpath.basename(path)
            image_io.write_image(local, array, metadata, quality=quality)
            data = local.read_bytes()
        self.write_bytes(path, data)
        return len(data)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Upload under a hidden temporary name beside `path` (files.temporary_name, as local writes
        use, so a sweep can find it), then move it into place: the target is never seen half-written."""
        folder, name = posixpath.split(path)
        tmp = posixpath.join(folder, temporary_name(name))
        self.fs.create_dir(folder, recursive=True)
        try:
            with self.fs.open_output_stream(tmp) as stream:
                stream.write(data)
            self.fs.move(tmp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.delete_file(tmp)
            raise

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as stream:
            return stream.read()

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def makedirs(self, path: str) -> None:
        self.fs.create_dir(path, recursive=True)

    def display(self, path: str) -> str:
        return f"{self.scheme}://{path}" if self.scheme != "file" else f"file://{path}"


def _mtime_ns(info) -> int:
    return 0 if info.mtime_ns is None else int(info.mtime_ns)


def local_path(storage: Storage, path: str) -> str | None:
    """The path on this machine's filesystem for a local folder's or a file:// location's `path`;
    None for a remote store (where links and realpath mean nothing)."""
    if isinstance(storage, LocalStorage) or (isinstance(storage, ArrowStorage) and storage.scheme == "file"):
        return path
    return None


def is_uri(location: str) -> bool:
    """True for a location with a scheme (s3://bucket/key, file:///path), False for a plain path."""
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", location) is not None


def open_location(location: str) -> tuple[Storage, str]:
    """(storage, path in it) for a plain path (made absolute against the working folder of this
    call) or a URI; a URI needs pyarrow (the cluster extra)."""
    if not is_uri(location):
        return LocalStorage(), os.path.abspath(os.path.expanduser(location))
    return _open_uri(location)


@functools.lru_cache(maxsize=64)  # a store's client (credentials, region) is made once per URI
def _open_uri(location: str) -> tuple[Storage, str]:
    try:
        from pyarrow.fs import FileSystem
    except ImportError:
        raise ValueError(f"{location}: reading or writing a URI needs pyarrow "
                         '(pip install "denoiser[cluster]")') from None
    try:
        filesystem, path = FileSystem.from_uri(location)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types; the user needs the message
        raise ValueError(f"{location}: cannot open it ({err})") from None
    return ArrowStorage(filesystem, location.split("://", 1)[0]), path
