"""Atomic file writes: a half-written file never replaces a good one.

The one implementation the library, trainer and app share. The data goes to a temporary file in
the target's folder; the temporary file is fsynced (whatever wrote it), then replaces the target in
one `os.replace`, and the folder is fsynced so the rename survives a power cut too.

The temporary file is created with mode 0666 through the umask, exactly as an ordinary `open()`
would create the target, and given that mode again after the writer ran (some writers, such as
safetensors', leave files private), so results stay readable by a web server or another user as
if they had been written directly. The umask is never read or set: setting it, even for a moment,
would give a file another thread creates meanwhile the wrong mode, and the app server writes from
several threads.

Its name is short and fixed in shape (TEMP_PREFIX, 8 random characters, the target's suffix), so
a target whose name is as long as the filesystem allows (255 bytes) can still be written, and a
batch can recognise what a killed write left (`is_temporary`).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Callable

TEMP_PREFIX = ".tmp-denoiser-"
_TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789"
_TEMP_NAME = re.compile(r"^\.tmp-denoiser-[a-z0-9]{8}(\.[A-Za-z0-9]{1,16})?$")


def temporary_name(target_name: str) -> str:
    """A fresh temporary name for a file that will become `target_name` (keeps a short suffix, so
    writers that pick a format by suffix work); at most 39 characters whatever the target's length."""
    suffix = os.path.splitext(target_name)[1]
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,16}", suffix) else ""
    return TEMP_PREFIX + "".join(secrets.choice(_TOKEN) for _ in range(8)) + suffix


def is_temporary(name: str) -> bool:
    """True for a file name `temporary_name` makes (what an interrupted write can leave behind)."""
    return _TEMP_NAME.match(name) is not None


def fsync_directory(folder: str | os.PathLike) -> None:
    """Make a rename or creation inside `folder` durable (POSIX: the directory entry is data too)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temporary(folder: Path, target_name: str) -> tuple[str, int]:
    """Create (exclusively) an empty temporary file in `folder`; returns it and the mode open()
    gives a new file there (the kernel applied the umask, and any default ACL, for us)."""
    for _ in range(100):
        tmp = os.path.join(folder, temporary_name(target_name))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            return tmp, os.fstat(fd).st_mode & 0o777
        finally:
            os.close(fd)
    raise FileExistsError(f"{folder}: no free temporary name")


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) to produce the file, then make it durable and move it to `path`
    atomically; returns `path`. The temporary name keeps the target's suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, mode = _create_temporary(path.parent, path.name)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        _fsync_file(tmp)  # the bytes reach the disk before the name does, whoever wrote them
        os.replace(tmp, path)
        fsync_directory(path.parent)  # then the rename itself survives a power loss
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)

    return atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
