"""What a photo file says beside its pixels, carried from the file read to the file written.

The colour profile (ICC) is kept byte for byte: the pixels are denoised in the file's own encoded
values, so the same profile still describes them (a Display-P3 phone photo stays P3). EXIF keeps
the camera, lens, date, exposure and GPS location; the orientation is reset to 1 because reading
already turned the pixels upright. Only descriptive tags are copied, never a source's layout tags
(a TIFF's strip offsets), its thumbnail (it would show the noisy photo) or the camera's private
MakerNote (its internal offsets break when the block moves).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PIL import Image

ORIENTATION, SOFTWARE, EXIF_IFD, GPS_IFD = 0x0112, 0x0131, 0x8769, 0x8825
# IFD0 tags worth keeping: description, make, model, orientation, resolution, software, date, artist, copyright.
_KEEP = (0x010E, 0x010F, 0x0110, ORIENTATION, 0x011A, 0x011B, 0x0128, SOFTWARE, 0x0132, 0x013B, 0x8298)
_DROP_FROM_EXIF_IFD = (0x927C, 0xA005)  # MakerNote; the Interoperability pointer (an offset, stale once moved)
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003


@dataclass(frozen=True)
class Metadata:
    """A file's colour profile and EXIF; either may be None (nothing to keep)."""

    icc_profile: bytes | None = None  # the embedded ICC profile, byte for byte
    exif: bytes | None = None  # EXIF as Pillow's Exif.tobytes() writes it, orientation 1

    @property
    def has_gps(self) -> bool:
        """True when the EXIF holds a GPS location."""
        exif = _load(self.exif)
        return exif is not None and bool(exif.get_ifd(GPS_IFD))

    def without_exif(self) -> Metadata:
        """The same without EXIF (camera, date, GPS location); the colour profile stays, since
        the colours are wrong without it and it says nothing about the person."""
        return dataclasses.replace(self, exif=None)

    def with_software(self, name: str) -> Metadata:
        """EXIF (made if there was none) whose Software tag names the program that wrote the file."""
        exif = _load(self.exif) or Image.Exif()
        exif[SOFTWARE] = name
        return dataclasses.replace(self, exif=exif.tobytes())

    def tags(self) -> dict[int, object]:
        """The EXIF's first-level tags (no sub-IFDs), {} without EXIF."""
        exif = _load(self.exif)
        return {} if exif is None else {k: v for k, v in exif.items() if not isinstance(v, dict)}


def of_image(image: Image.Image, keep_profile: bool = True) -> Metadata:
    """The metadata of an opened image, taken before its pixels are turned upright (turning them
    removes the orientation from the EXIF Pillow holds). keep_profile=False drops an ICC profile
    that no longer describes the pixels (a CMYK photo converted to RGB). A corrupt EXIF block is
    dropped, never an error."""
    icc = (image.info.get("icc_profile") or None) if keep_profile else None
    try:
        exif = _descriptive(_source_exif(image), image.size)
    except Exception:  # noqa: BLE001 - broken EXIF must not stop a photo from being denoised
        exif = None
    return Metadata(icc, exif)


def _source_exif(image: Image.Image) -> Image.Exif | None:
    if image.format == "PNG" and "exif" not in image.info:
        return None  # Pillow would decode the whole image to look for an eXIf after the pixels
    exif = image.getexif()
    return exif if len(exif) else None


def _descriptive(source: Image.Exif | None, size: tuple[int, int]) -> bytes | None:
    """The tags worth keeping, for pixels of `size` (width, height) as stored, about to be turned upright."""
    if source is None:
        return None
    if source.get(ORIENTATION) in (5, 6, 7, 8):  # a quarter turn: width and height trade places
        size = size[::-1]
    exif = Image.Exif()
    for tag in _KEEP:
        if tag in source:
            exif[tag] = source[tag]
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1  # the pixels are upright now
    camera = {k: v for k, v in source.get_ifd(EXIF_IFD).items() if k not in _DROP_FROM_EXIF_IFD}
    if _PIXEL_X in camera or _PIXEL_Y in camera:
        camera[_PIXEL_X], camera[_PIXEL_Y] = size
    if camera:
        exif[EXIF_IFD] = camera
    gps = dict(source.get_ifd(GPS_IFD))
    if gps:
        exif[GPS_IFD] = gps
    return exif.tobytes() if len(exif) else None


def _load(data: bytes | None) -> Image.Exif | None:
    if not data:
        return None
    exif = Image.Exif()
    exif.load(data)
    return exif
