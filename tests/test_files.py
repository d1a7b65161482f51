"""denoiser.files: atomic writes that honour the umask (files were once left private, mode 0600, by
the temporary file they were written through) and leave nothing behind when a writer fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from denoiser.files import atomic_write, atomic_write_bytes, atomic_write_text


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=oct)
def umask(request):
    """Run the test under this umask, and restore the previous one after."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_written_files_get_the_mode_open_would_give(tmp_path, umask):
    expected = 0o666 & ~umask
    text = atomic_write_text(tmp_path / "a.txt", "héllo\n")
    data = atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    custom = atomic_write(tmp_path / "c.json", lambda tmp: Path(tmp).write_text("{}"))
    with open(tmp_path / "plain.txt", "w") as handle:  # the reference: an ordinary open()
        handle.write("x")
    assert mode(tmp_path / "plain.txt") == expected
    for path in (text, data, custom):
        assert mode(path) == expected, (path.name, oct(mode(path)), oct(expected))
    assert text.read_text(encoding="utf-8") == "héllo\n" and data.read_bytes() == b"\x00\x01"
    assert custom.read_text() == "{}"
    # replacing a file gives it the umask mode as well (it is a new file, not an edit in place)
    os.chmod(text, 0o600)
    atomic_write_text(text, "again")
    assert mode(text) == expected and text.read_text() == "again"
    assert leftovers(tmp_path) == []
    assert os.umask(umask) == umask  # reading the umask did not change it


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path, umask):
    target = atomic_write_text(tmp_path / "keep.txt", "good")

    def half_then_fail(tmp: str) -> None:
        with open(tmp, "w") as handle:
            handle.write("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "good" and mode(target) == 0o666 & ~umask
    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "new.txt", half_then_fail)  # no target yet: none appears
    assert not (tmp_path / "new.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_the_temporary_keeps_the_suffix_and_lives_beside_the_target(tmp_path):
    seen = []

    def write(tmp: str) -> None:
        seen.append(tmp)
        open(tmp, "wb").close()

    atomic_write(tmp_path / "sub" / "image.png", write)  # missing folders are created
    (tmp,) = seen
    assert os.path.dirname(tmp) == str(tmp_path / "sub") and tmp.endswith(".png") and not os.path.exists(tmp)
    assert (tmp_path / "sub" / "image.png").is_file()


def test_images_and_models_get_the_umask_mode(tmp_path, umask, tiny_model):
    from denoiser.hub import load_model, save_model
    from denoiser.io import read_image, write_image

    expected = 0o666 & ~umask
    for name, image in [("a.png", np.zeros((8, 8, 3), np.uint8)), ("b.jpg", np.zeros((8, 8), np.uint8)),
                        ("c.tif", np.zeros((8, 8, 3), np.uint16))]:  # the last: the 16-bit colour writer
        write_image(tmp_path / name, image)
        assert mode(tmp_path / name) == expected, name
        assert read_image(tmp_path / name).shape == image.shape
    folder = save_model(tiny_model, tmp_path / "model")
    assert {p.name: mode(p) for p in folder.iterdir()} == {"config.json": expected, "model.safetensors": expected}
    assert load_model(folder).config == tiny_model.config
    assert leftovers(tmp_path) == [] and leftovers(folder) == []


def test_a_write_never_sets_the_process_umask(tmp_path, umask, monkeypatch):
    """Setting the umask, even for a moment, races every other thread that creates a file (the app
    server writes from several): a write must read it without touching it."""
    def refuse(mask):
        raise AssertionError(f"os.umask({oct(mask)}) called during a write")

    monkeypatch.setattr(os, "umask", refuse)
    path = atomic_write_text(tmp_path / "a.txt", "x")
    assert mode(path) == 0o666 & ~umask


def test_a_write_fsyncs_the_file_and_then_its_folder(tmp_path, monkeypatch):
    """Durable against power loss: the data, then the rename (the folder's entry)."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)) or real_fsync(fd))
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    assert synced == [False, True]


def record_fsyncs_and_renames(monkeypatch) -> list[tuple]:
    """Every os.fsync and os.replace, in order, as the kernel sees them: ("fsync", inode, is_dir)
    and ("replace", inode of the file moved, inode of the target's folder)."""
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync", info.st_ino, stat.S_ISDIR(info.st_mode)))
        return real_fsync(fd)

    def replace(src, dst, *args, **kwargs):
        events.append(("replace", os.stat(src).st_ino, os.stat(os.path.dirname(os.fspath(dst)) or ".").st_ino))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def assert_durable(events: list[tuple]) -> None:
    """One rename; before it an fsync of the very file renamed, after it an fsync of its folder."""
    renames = [i for i, e in enumerate(events) if e[0] == "replace"]
    assert len(renames) == 1, events
    at, (_, moved, folder) = renames[0], events[renames[0]]
    assert ("fsync", moved, False) in events[:at], f"the file was not fsynced before its rename: {events}"
    assert ("fsync", folder, True) in events[at + 1:], f"the folder was not fsynced after the rename: {events}"


@pytest.mark.parametrize("name, image", [
    ("a.png", np.zeros((8, 8, 3), np.uint8)), ("b.jpg", np.zeros((8, 8), np.uint8)),
    ("c.png", np.zeros((8, 8, 3), np.uint16)),  # 16-bit colour PNG: OpenCV's encoder, bytes written by io16
    ("d.png", np.zeros((8, 8, 2), np.uint16)),  # 16-bit gray + alpha: denoiser.png's own writer
    ("e.tif", np.zeros((8, 8, 3), np.uint16)),  # tifffile
], ids=["png", "jpeg", "png16", "png16-gray-alpha", "tiff16"])
def test_every_image_writer_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch, name, image):
    """The README's "temporary file, fsync, rename, power cut included", for whatever wrote the bytes."""
    from denoiser.io import read_image, write_image
    from denoiser.storage import LocalStorage

    events = record_fsyncs_and_renames(monkeypatch)
    write_image(tmp_path / name, image)
    assert_durable(events)
    events.clear()
    size = LocalStorage().write_image(str(tmp_path / "batch" / name), image, None, 95)  # what a batch calls
    assert_durable(events)
    assert size == (tmp_path / "batch" / name).stat().st_size and read_image(tmp_path / name).shape == image.shape


def test_a_writer_that_never_fsyncs_is_fsynced_for_it(tmp_path, monkeypatch):
    events = record_fsyncs_and_renames(monkeypatch)
    atomic_write(tmp_path / "a.bin", lambda tmp: Path(tmp).write_bytes(b"x"))
    assert_durable(events)


def test_a_name_as_long_as_the_filesystem_allows_is_written(tmp_path):
    """The temporary name is short whatever the target's length: a 255-byte name (NAME_MAX) works."""
    from denoiser.io import read_image, write_image

    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    for name in ("t" * limit, "u" * (limit - 4) + ".png", "v" * 252):
        if name.endswith(".png"):
            write_image(tmp_path / name, np.zeros((4, 4), np.uint8))
            assert read_image(tmp_path / name).shape == (4, 4)
        else:
            assert atomic_write_text(tmp_path / name, "x").read_text() == "x"
    assert leftovers(tmp_path) == []
