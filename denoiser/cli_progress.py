"""The command line's progress on stderr: what it is doing while an image has no tiles to count, then a
bar of the image's tiles (a large photo on a CPU takes minutes)."""

from __future__ import annotations

import contextlib
import sys


class Stages:
    """What the command is doing, on one line of stderr: a stage ("measuring the noise") while an
    image has no tiles to count, then a bar of its tiles (a large photo on a CPU takes minutes).
    The stage line shows on a terminal only; the tile bar, as before, wherever stderr goes."""

    def __init__(self) -> None:
        self.bar = None

    def show(self, text: str) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=None, desc=text, bar_format="{desc}…", leave=False, disable=None,
                        file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    @contextlib.contextmanager
    def tile_bar(self, name: str):
        """denoise()'s progress callback for one image (entered once it is read, left once it is
        denoised; the write goes on in a thread)."""
        from tqdm import tqdm

        self.show(f"{name}: measuring the noise")
        tiles = None

        def progress(done: int, total: int) -> None:
            nonlocal tiles
            if tiles is None and total > 1:
                self.close()
                # initial=done: the rate counts tiles from now, not the first one "in 0 s" (59918 tile/s)
                tiles = tqdm(total=total, initial=done, desc=f"{name}: denoising", unit="tile", leave=False,
                             file=sys.stderr)
            if tiles is not None:
                tiles.n = done
                tiles.refresh()

        try:
            yield progress
        finally:
            if tiles is not None:
                tiles.close()
            self.show(f"{name}: writing")
