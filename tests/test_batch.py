"""`denoiser denoise SRC... -o DST` over a library: recursive folders, --glob, --from-list, the
summary, resuming from the journal, exactly-once under SIGKILL, and the decode/denoise/encode overlap."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
from batch_support import (cli, denoise, done_counts, finished_run, journal, journal_segment, library, outputs, popen,
                           stray_files)

from denoiser import batch
from denoiser.batch import Request, run
from denoiser.batch_work import Settings
from denoiser.io import read_image, write_image


def test_folders_are_walked_with_glob_and_outputs_mirror_them(tmp_path, tiny_model_dir, capsys):
    photos = library(tmp_path / "photos", count=6)
    (photos / ".hidden").mkdir()
    write_image(photos / ".hidden" / "x.png", np.zeros((8, 8), np.uint8))
    assert denoise(photos, "-o", tmp_path / "jpegs", "--glob", "*.JPG", "--model", tiny_model_dir, "--sigma", 10) == 0
    assert sorted(outputs(tmp_path / "jpegs")) == ["set2/img05-photo.jpg"]

    assert denoise(photos, "-o", photos / "clean", "--model", tiny_model_dir, "--sigma", 10) == 0  # OUT inside IN
    assert sorted(outputs(photos / "clean")) == sorted(p for p in outputs(photos) if not p.startswith("clean/"))
    captured = capsys.readouterr()
    assert "done 6, skipped 0 (already done), failed 0" in captured.out
    assert "6/6" in captured.err and "images/s" in captured.err  # the bar: count, rate (and the time left)
    assert denoise(photos, "-o", photos / "clean", "--model", tiny_model_dir, "--sigma", 10) == 0
    assert "done 0, skipped 6" in capsys.readouterr().out  # its own outputs are not inputs the second time
    assert denoise(photos, "-o", tmp_path / "none", "--glob", "*.tif", "--model", tiny_model_dir) == 2
    assert "no images in this folder matching '*.tif'" in capsys.readouterr().err


def test_a_list_of_files_mirrors_their_shared_folder_and_reports_each_failure(tmp_path, tiny_model_dir, capsys):
    photos = library(tmp_path / "photos", count=6)
    (photos / "set1" / "broken.png").write_bytes(b"not a png")
    names = ["set1/img01-rgb16.png", "set2/img02-gray8.png", "set1/broken.png", "set2/gone.png"]
    listing = tmp_path / "list.txt"
    listing.write_text("# my picks\n" + "".join(f"{photos / n}\n" for n in names) + "\n")
    assert denoise("--from-list", listing, "-o", tmp_path / "out", "--model", tiny_model_dir, "--sigma", 10) == 2
    assert sorted(outputs(tmp_path / "out")) == ["set1/img01-rgb16.png", "set2/img02-gray8.png"]  # the rest written
    assert read_image(tmp_path / "out" / "set1" / "img01-rgb16.png").dtype == np.uint16
    captured = capsys.readouterr()
    assert "done 2, skipped 0 (already done), failed 2" in captured.out
    assert "broken.png: not an image file" in captured.err and "gone.png: no such file" in captured.err
    assert denoise("--from-list", listing, "-o", tmp_path / "out", "--model", tiny_model_dir, "--sigma", 10) == 2
    assert "done 0, skipped 2 (already done), failed 2" in capsys.readouterr().out  # failures are tried again


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(tmp_path, tiny_model_dir, capsys):
    photos = library(tmp_path / "photos", count=6)
    out = tmp_path / "out"
    args = [photos, "-o", out, "--model", tiny_model_dir]
    assert denoise(*args) == 0
    first = outputs(out)
    assert len(first) == 6 and set(done_counts(out).values()) == {1}

    assert denoise(*args) == 0
    assert "done 0, skipped 6" in capsys.readouterr().out
    changed = photos / "set1" / "img01-rgb16.png"
    write_image(changed, (read_image(changed) // 2).astype(np.uint16))  # another photo under the same name
    (out / "img00-rgb8.png").unlink()  # an output deleted by hand
    assert denoise(*args) == 0
    assert "done 2, skipped 4" in capsys.readouterr().out
    assert outputs(out)["img00-rgb8.png"] == first["img00-rgb8.png"]
    assert outputs(out)["set1/img01-rgb16.png"] != first["set1/img01-rgb16.png"]

    assert denoise(*args, "--strength", 0.5) == 0  # other settings: everything again
    assert "done 6, skipped 0" in capsys.readouterr().out
    assert denoise(*args, "--format", "png") == 0  # the JPEG becomes a PNG, the PNGs are the same work
    assert "done 6, skipped 0" in capsys.readouterr().out


def test_files_that_are_not_ours_need_overwrite(tmp_path, tiny_model_dir, capsys):
    photos = library(tmp_path / "photos", count=3)
    out = tmp_path / "out"
    write_image(out / "img00-rgb8.png", np.zeros((4, 4), np.uint8))  # the user's own file
    assert denoise(photos, "-o", out, "--model", tiny_model_dir) == 2
    assert "img00-rgb8.png exists (1 output(s) would be replaced); pass --overwrite" in capsys.readouterr().err
    assert not (out / ".denoiser-journal").exists() and read_image(out / "img00-rgb8.png").shape == (4, 4)
    assert denoise(photos, "-o", out, "--model", tiny_model_dir, "--overwrite") == 0
    assert denoise(photos, "-o", out, "--model", tiny_model_dir, "--sigma", 5) == 0  # now ours: no --overwrite


def test_decoding_and_encoding_overlap_the_network(tmp_path, tiny_model_dir, monkeypatch):
    """The next image is read while the network runs, and a result is written while the network
    runs on the next one: each step below waits for the other, so a serial loop times out."""
    photos = library(tmp_path / "photos", count=4)
    read_started = {i: threading.Event() for i in range(4)}
    compute_started = {i: threading.Event() for i in range(4)}
    index = {f"img{i:02d}": i for i in range(4)}
    real_read, real_compute, real_write = batch.read, batch.compute, batch.write

    def read(job):
        read_started[index[job.target.rsplit("/", 1)[-1][:5]]].set()
        return real_read(job)

    def compute(image, model, settings, progress=None):
        current = next(i for i in range(4) if compute_started[i].is_set() is False)
        compute_started[current].set()
        if current < 3:
            assert read_started[current + 1].wait(10), "the next image was not read during the network's turn"
        return real_compute(image, model, settings, progress)

    def write(out, metadata, target, out_root, settings):
        current = index[target.rsplit("/", 1)[-1][:5]]
        if current < 3:
            assert compute_started[current + 1].wait(10), "the result was not written during the next image's turn"
        return real_write(out, metadata, target, out_root, settings)

    monkeypatch.setattr(batch, "read", read)
    monkeypatch.setattr(batch, "compute", compute)
    monkeypatch.setattr(batch, "write", write)
    summary = run(Request([str(photos)], str(tmp_path / "out"), Settings(sigma=10), model=str(tiny_model_dir)))
    assert summary.done == 4 and not summary.failed, summary.failed


def slow_model(folder):
    """A model wide enough that each 200-pixel image takes a noticeable time, so a kill lands mid-run."""
    import torch
    from denoiser.hub import save_model
    from denoiser.model import build_model, preset

    torch.manual_seed(0)
    config = preset("default", widths=(32, 64), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1)
    return save_model(build_model(config).eval(), folder)


def test_sigkill_mid_run_loses_nothing_and_duplicates_nothing(tmp_path, kills=2):
    model = slow_model(tmp_path / "model")
    photos = library(tmp_path / "photos", count=12, size=200)
    args = ["denoise", photos, "-o", None, "--model", model, "--sigma", 20]
    clean = tmp_path / "clean"
    assert cli(*[a if a is not None else clean for a in args]).returncode == 0
    expected = outputs(clean)

    out = tmp_path / "out"
    for kill in range(kills):
        run_ = popen(*[a if a is not None else out for a in args])
        deadline, target = time.monotonic() + 300, 3 + 4 * kill
        while time.monotonic() < deadline and len(outputs(out) if out.exists() else {}) < target and run_.poll() is None:
            time.sleep(0.01)
        os.kill(run_.pid, signal.SIGKILL)
        run_.wait()
        written = outputs(out)
        assert 0 < len(written) < len(expected), "the kill should land mid-run (the run was too fast or too slow)"
        for name, data in written.items():  # every file under an output's name is whole: the clean run's bytes
            assert data == expected[name], name
    finished = cli(*[a if a is not None else out for a in args])
    assert finished.returncode == 0, finished.stderr
    assert outputs(out) == expected  # every output exactly once, byte-identical
    assert stray_files(out) == []  # no temporary file left
    assert done_counts(out) == {name: 1 for name in expected}  # each recorded done exactly once
    assert sum(r["event"] == "done" for r in journal(out)) == len(expected)


def test_the_journal_survives_a_torn_line_owns_what_it_planned_and_sweeps_only_our_temporaries(tmp_path, tiny_model_dir,
                                                                                            capsys):
    """What a kill leaves, made by hand: a half-written last journal line, an output planned but not
    recorded done, a temporary file of a planned output; and a hidden file of the user's."""
    args, out, expected = finished_run(tmp_path, tiny_model_dir)
    segment = journal_segment(out)
    lines = segment.read_text().splitlines(keepends=True)
    done = [i for i, line in enumerate(lines) if '"done"' in line and "img00" in line][0]
    segment.write_text("".join(lines[:done] + lines[done + 1:]) + lines[done][:25])  # img00: planned, not done
    (out / "img00-rgb8.png").write_bytes(b"half")  # whatever a kill left under the name (never partial, but ours)
    temporary = out / "set1" / ".tmp-denoiser-k2j4h6g8.png"  # as denoiser.files.temporary_name names them
    temporary.write_bytes(b"partial")
    (out / "elsewhere").mkdir()
    mine = [out / ".img00-rgb8.png.keep", out / ".notes.x1y2z3w4.txt",  # not temporaries of our outputs
            out / "elsewhere" / ".tmp-denoiser-k2j4h6g8.png"]  # in a folder where we write nothing
    for path in mine:
        path.write_bytes(b"the user's")
    assert denoise(*args) == 0  # no --overwrite needed: the journal planned img00
    assert "done 1, skipped 2" in capsys.readouterr().out
    assert outputs(out) == expected and not temporary.exists() and all(p.read_bytes() == b"the user's" for p in mine)


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, tiny_model_dir, capsys):
    from denoiser.journal import JournalWriter
    from denoiser.storage import LocalStorage

    photos = library(tmp_path / "photos", count=2)
    with JournalWriter(LocalStorage(), str(tmp_path / "out")):  # a run in progress
        assert denoise(photos, "-o", tmp_path / "out", "--model", tiny_model_dir) == 2
    assert "another denoiser run is writing into this folder" in capsys.readouterr().err
    assert denoise(photos, "-o", tmp_path / "out", "--model", tiny_model_dir) == 0  # the lock went with it


def test_done_means_the_output_at_its_recorded_size_and_the_source_at_its_recorded_mtime(tmp_path, tiny_model_dir,
                                                                                          capsys):
    """Two of the facts a "done" record is checked against, each changed alone."""
    args, out, first = finished_run(tmp_path, tiny_model_dir)
    (out / "img00-rgb8.png").write_bytes(first["img00-rgb8.png"][:-7])  # cut short by some other program
    capsys.readouterr()
    assert denoise(*args) == 0
    assert "done 1, skipped 2" in capsys.readouterr().out and outputs(out) == first
    source = args[0] / "set1" / "img01-rgb16.png"  # touched, same size: edited in place by another tool
    info = source.stat()
    os.utime(source, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    assert denoise(*args) == 0
    assert "done 1, skipped 2" in capsys.readouterr().out
