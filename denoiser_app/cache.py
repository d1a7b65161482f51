"""The last few decoded uploads and noise estimates, so that one photo is decoded and measured once.

The upload check reads the photo and measures its noise; Denoise, the model choice and Compare
need the same again. On a 12 MP photo that second decode and estimate cost seconds of the wait.
Entries are keyed by the file's path, modification time and size (gradio gives every upload its
own path), arrays are made read-only so no caller can change what another will get, and the
total kept is bounded in bytes.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def file_key(path: str | os.PathLike) -> tuple | None:
    """(path, mtime in ns, size) of an existing file, None when it cannot be read (not cached)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


class Recent:
    """A thread-safe least-recently-used store: `get(key, make)` returns the kept value or makes it.
    At most `items` values and `nbytes` bytes of arrays are kept (the newest value always is)."""

    def __init__(self, items: int = 4, nbytes: int = 800_000_000) -> None:
        self.items, self.nbytes = items, nbytes
        self._values: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make: Callable[[], T]) -> T:
        if key is None:
            return make()
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = make()  # outside the lock: a slow decode must not hold up other requests
        _freeze(value)
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > 1 and (len(self._values) > self.items or self._size() > self.nbytes):
                self._values.popitem(last=False)
        return value

    def _size(self) -> int:
        return sum(_nbytes(v) for v in self._values.values())


def _arrays(value) -> list[np.ndarray]:
    items = value if isinstance(value, tuple) else (value,)
    return [v for v in items if isinstance(v, np.ndarray)]


def _nbytes(value) -> int:
    return sum(a.nbytes for a in _arrays(value))


def _freeze(value) -> None:
    for array in _arrays(value):
        array.setflags(write=False)
