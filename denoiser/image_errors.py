"""The errors image reading and writing raise; each message names the user's file."""

from __future__ import annotations


class ImageReadError(ValueError):
    """A file that is not a readable image, or one we refuse to read; the message names the file."""


class ImageTooLargeError(ImageReadError):
    """An image above the pixel limit; `pixels` and `limit` let an app word the advice its own way."""

    def __init__(self, name: str, pixels: int, limit: int, size: tuple[int, int] | None = None) -> None:
        self.name, self.pixels, self.limit, self.size = name, pixels, limit, size
        dims = f"{size[0]}x{size[1]} = " if size else ""
        super().__init__(f"{name}: {dims}{pixels:,} pixels exceeds the limit of {limit:,} pixels ({limit / 1e6:g} "
                         "megapixels); scale or crop it, or set DENOISER_MAX_PIXELS to raise the limit")


class ImageWriteError(ValueError):
    """A file that could not be written (a read-only place, a file where a folder should be); the
    message names the path the user asked for."""
