"""Atomic file writes: a half-written file never replaces a good one.

The one implementation the library, trainer and app share. The data goes to a temporary file in
the target's folder, which then replaces the target in one `os.replace`. The temporary file is
created private (mode 0600) by `tempfile`; it is given the mode an ordinary `open()` would give
(0666 less the umask) before it takes the target's place, so results stay readable by a web server
or another user exactly as if they had been written directly. The umask is read without setting it
(Linux: /proc/self/status): setting it, even for a moment, would give a file another thread creates
meanwhile the wrong mode, and the app server writes from several threads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _read_umask_by_setting() -> int:
    mask = os.umask(0)  # portable, but changes the process's umask for a moment: only at import
    os.umask(mask)
    return mask


def _umask() -> int:
    """The process's umask, read without changing it (Linux 4.7+); elsewhere, the one read at import."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return _UMASK_AT_IMPORT


_UMASK_AT_IMPORT = _read_umask_by_setting()


def fsync_directory(folder: str | os.PathLike) -> None:
    """Make a rename or creation inside `folder` durable (POSIX: the directory entry is data too)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) to produce the file, then move it to `path` atomically; returns `path`.
    The temporary name keeps the target's suffix, so writers that pick a format by suffix work."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        fsync_directory(path.parent)  # the rename survives a power loss
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
