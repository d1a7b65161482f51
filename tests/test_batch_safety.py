"""A batch never touches a file it was not asked to write: list entries that climb out of OUT
(through URIs and percent-encoding), links inside OUT, OUT = IN; a garbled journal is read past,
not fatal; and "done" means the same weights, config and code, not just the same name.
Each case reruns exactly: what was refused wrote nothing, and what ran is skipped the second time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from batch_support import ROOT, denoise, done_counts, finished_run, journal_segment, library, outputs

from denoiser.batch_plan import Job, Plan, PlanError, _check_inside_and_apart, _list_uri
from denoiser.io import read_image, write_image


def photo(path: Path, value: int = 100) -> Path:
    write_image(path, np.full((12, 14, 3), value, np.uint8))
    return path


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too), rel path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# 1. --from-list: URI entries are decoded and normalised before the shared folder is found


@pytest.mark.parametrize("climb", ["..", "%2e%2e", "%2E%2E"])
def test_a_list_of_uris_cannot_climb_out_of_out(tmp_path, tiny_model_dir, capsys, climb):
    pytest.importorskip("pyarrow", reason="file:// URIs go through pyarrow (the cluster extra)")
    photo(tmp_path / "in" / "a" / "x.png")
    victim = photo(tmp_path / "victim" / "pwn.png", 7)  # the user's own photo, outside OUT
    before = files_under(tmp_path / "victim")
    listing = tmp_path / "list.txt"
    listing.write_text(f"file://{tmp_path}/in/a/x.png\nfile://{tmp_path}/in/a/{climb}/{climb}/victim/pwn.png\n")
    out = tmp_path / "work" / "out"
    args = ["--from-list", listing, "-o", out, "--model", tiny_model_dir, "--sigma", 10]
    assert denoise(*args) == 0, capsys.readouterr().err
    # both entries mirrored below their real shared folder, tmp_path: nothing written outside OUT
    assert sorted(outputs(out)) == ["in/a/x.png", "victim/pwn.png"]
    assert files_under(tmp_path / "victim") == before and read_image(victim)[0, 0, 0] == 7
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]
    assert set(done_counts(out)) == {"in/a/x.png", "victim/pwn.png"}
    assert denoise(*args) == 0 and "done 0, skipped 2" in capsys.readouterr().out  # the rerun is exact


def test_a_percent_encoded_name_is_decoded_once(tmp_path, tiny_model_dir, capsys):
    pytest.importorskip("pyarrow", reason="file:// URIs go through pyarrow (the cluster extra)")
    photo(tmp_path / "in" / "my photos" / "a b.png")
    photo(tmp_path / "in" / "other" / "c.png")
    listing = tmp_path / "list.txt"
    listing.write_text(f"file://{tmp_path}/in/my%20photos/a%20b.png\nfile://{tmp_path}/in/other/c.png\n")
    assert denoise("--from-list", listing, "-o", tmp_path / "out", "--model", tiny_model_dir, "--sigma", 10) == 0
    assert sorted(outputs(tmp_path / "out")) == ["my photos/a b.png", "other/c.png"]


def test_an_object_store_entry_naming_a_dot_dot_folder_is_refused():
    with pytest.raises(PlanError, match=r"list.txt: s3://bucket/a/%2e%2e/b.png names a '\.' or '\.\.' folder"):
        _list_uri("list.txt", "s3://bucket/a/%2e%2e/b.png")
    assert _list_uri("list.txt", "s3://bucket/a/b%20c.png") == ("s3://bucket", "/a/b c.png")
    assert _list_uri("list.txt", "file:///x/a/../b.png") == ("file://", "/x/b.png")


def test_an_output_outside_out_is_refused_naming_its_input(tmp_path):
    """The last guard, whatever found the inputs (a store's key may hold '..'): every target stays below OUT."""
    for target in ("../x.png", "a/../../x.png", "/etc/x.png", "a//x.png"):
        job = Job(str(tmp_path), "k", target, "s3://bucket/in/../x.png", 1, 1)
        with pytest.raises(PlanError, match=r"s3://bucket/in/\.\./x\.png: its output .* would not be inside"):
            _check_inside_and_apart(Plan([job], str(tmp_path / "out"), False, []))


# 2. links inside OUT


def test_a_linked_folder_inside_out_is_refused_even_with_overwrite(tmp_path, tiny_model_dir, capsys):
    photos = tmp_path / "photos"
    photo(photos / "sub" / "a.png")
    photo(photos / "b.png")
    elsewhere = tmp_path / "elsewhere"
    photo(elsewhere / "a.png", 7)  # the user's file the link leads to
    before = files_under(elsewhere)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    for extra in ([], ["--overwrite"]):
        assert denoise(photos, "-o", out, "--model", tiny_model_dir, "--sigma", 10, *extra) == 2
        assert f"{out / 'sub'} is a link inside OUT; the batch does not write through links" in capsys.readouterr().err
        assert files_under(elsewhere) == before and sorted(files_under(out)) == []
    (out / "sub").unlink()  # the user moves the link away: the run goes through, and reruns exactly
    assert denoise(photos, "-o", out, "--model", tiny_model_dir, "--sigma", 10) == 0
    assert denoise(photos, "-o", out, "--model", tiny_model_dir, "--sigma", 10) == 0
    assert "done 0, skipped 2" in capsys.readouterr().out and files_under(elsewhere) == before


def test_a_linked_journal_folder_is_refused(tmp_path, tiny_model_dir, capsys):
    photos = library(tmp_path / "photos", count=2)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".denoiser-journal").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert denoise(photos, "-o", tmp_path / "out", "--model", tiny_model_dir) == 2
    assert "is a link inside OUT" in capsys.readouterr().err and not any((tmp_path / "elsewhere").iterdir())


def test_a_link_in_an_outputs_place_needs_overwrite_and_only_the_link_is_replaced(tmp_path, tiny_model_dir, capsys):
    photos = tmp_path / "photos"
    photo(photos / "a.png")
    photo(photos / "b.png")
    elsewhere = photo(tmp_path / "elsewhere" / "a.png", 7)
    dangling = tmp_path / "gone.png"  # a link to nothing is a file of the user's all the same
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").symlink_to(elsewhere)
    (out / "b.png").symlink_to(dangling)
    args = [photos, "-o", out, "--model", tiny_model_dir, "--sigma", 10]
    assert denoise(*args) == 2
    assert "exists (2 output(s) would be replaced); pass --overwrite" in capsys.readouterr().err
    assert (out / "a.png").is_symlink() and (out / "b.png").is_symlink()
    assert denoise(*args, "--overwrite") == 0
    assert not (out / "a.png").is_symlink() and read_image(elsewhere)[0, 0, 0] == 7 and not dangling.exists()
    assert denoise(*args) == 0 and "done 0, skipped 2" in capsys.readouterr().out


# 3. OUT = IN, and IN inside OUT


def test_out_equal_to_in_is_refused_however_it_is_spelt(tmp_path, tiny_model_dir, capsys):
    photos = library(tmp_path / "photos", count=3)
    before = files_under(photos)
    (tmp_path / "alias").symlink_to(photos, target_is_directory=True)
    for out in (photos, tmp_path / "photos" / ".." / "photos", tmp_path / "alias"):
        for extra in ([], ["--overwrite"]):
            assert denoise(photos, "-o", out, "--model", tiny_model_dir, *extra) == 2
            assert "OUT is this input folder, and the outputs would replace the photos" in capsys.readouterr().err
            assert files_under(photos) == before  # no photo replaced, no journal written


def test_inputs_inside_out_are_never_their_own_outputs(tmp_path, tiny_model_dir, capsys):
    """A list naming OUT's own files (IN inside OUT) would denoise them in place, and again on every rerun."""
    out = tmp_path / "out"
    photo(out / "a.png")
    photo(out / "sub" / "b.png")
    before = files_under(out)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{out / 'a.png'}\n{out / 'sub' / 'b.png'}\n")
    assert denoise("--from-list", listing, "-o", out, "--model", tiny_model_dir, "--overwrite") == 2
    assert "a.png: its output would replace this input" in capsys.readouterr().err
    assert files_under(out) == before
    assert denoise(out / "a.png", "-o", out / "a.png", "--model", tiny_model_dir, "--overwrite") == 2  # one file too
    assert files_under(out) == before


# 5. a garbled journal


@pytest.mark.parametrize("garbage", ["[" * 200_000, '{"event": "done", "target": "img00-rgb8.png", "size": '
                                     + "9" * 5000 + "}", "\x00\xff not json at all"],
                         ids=["deep-nesting", "5000-digits", "binary"])
def test_a_garbled_journal_line_is_skipped_with_one_warning_and_its_photo_redone(tmp_path, tiny_model_dir, capsys,
                                                                                  garbage):
    args, out, expected = finished_run(tmp_path, tiny_model_dir)
    segment = journal_segment(out)
    lines = segment.read_text().splitlines(keepends=True)
    lines = [garbage + "\n" if '"done"' in line and "img00" in line else line for line in lines]
    segment.write_text("".join(lines))
    capsys.readouterr()
    assert denoise(*args) == 0
    captured = capsys.readouterr()
    assert "done 1, skipped 2" in captured.out  # img00 was recorded on the garbled line: redone
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {segment}: skipped 1 unreadable journal line(s); what they recorded is "
                        "denoised again"], captured.err
    assert "Traceback" not in captured.err and outputs(out) == expected
    assert denoise(*args) == 0 and "done 0, skipped 3" in capsys.readouterr().out  # and the rerun is exact


# 6. "done" and the ONNX cache know the config and the code


def toggled(model_dir: Path, folder: Path) -> Path:
    """A copy of `model_dir`: the same weights, with white_noise_check turned on in config.json."""
    folder.mkdir(exist_ok=True)
    (folder / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    config = json.loads((model_dir / "config.json").read_text())
    assert config.get("white_noise_check", False) is False
    (folder / "config.json").write_text(json.dumps({**config, "white_noise_check": True}))
    return folder


def test_a_changed_config_json_is_new_work(tmp_path, tiny_model_dir, capsys):
    """The same folder, the same weights: only config.json changes (the white-noise check turned on)."""
    photos = library(tmp_path / "photos", count=3)
    out, model = tmp_path / "out", tmp_path / "model"
    model.mkdir()
    for name in ("model.safetensors", "config.json"):
        (model / name).write_bytes((tiny_model_dir / name).read_bytes())
    assert denoise(photos, "-o", out, "--model", model) == 0
    assert denoise(photos, "-o", out, "--model", model) == 0
    assert "done 0, skipped 3" in capsys.readouterr().out
    toggled(tiny_model_dir, model)
    assert denoise(photos, "-o", out, "--model", model) == 0
    assert "done 3, skipped 0" in capsys.readouterr().out
    assert denoise(photos, "-o", out, "--model", model) == 0
    assert "done 0, skipped 3" in capsys.readouterr().out


def test_a_code_change_is_new_work(tmp_path, tiny_model_dir, capsys, monkeypatch):
    import denoiser.identity as identity

    photos = library(tmp_path / "photos", count=2)
    args = [photos, "-o", tmp_path / "out", "--model", tiny_model_dir, "--sigma", 10]
    assert denoise(*args) == 0
    monkeypatch.setattr(identity, "code_digest", lambda: "another version of the code")
    assert denoise(*args) == 0
    assert "done 2, skipped 0" in capsys.readouterr().out


def test_the_code_digest_follows_the_source_of_what_decides_outputs(tmp_path):
    from denoiser.identity import code_digest

    package = tmp_path / "denoiser"
    package.mkdir()
    for name in ("inference.py", "cli.py", "__init__.py"):
        (package / name).write_text(f"# {name}\n")
    first = code_digest(package)
    (package / "cli.py").write_text("# the command line's help changed\n")
    assert code_digest(package) == first
    (package / "inference.py").write_text("# the network is run another way\n")
    second = code_digest(package)
    assert second != first
    (package / "new_module.py").write_text("# a module nobody listed counts\n")
    assert code_digest(package) != second


def test_the_onnx_cache_is_keyed_by_the_config_too(tmp_path, tiny_model_dir, monkeypatch):
    """Two folders with the same weights, one with the white-noise check on: each gets its own
    export (exporting is stubbed: what matters is which folder, and which config, is used)."""
    from types import SimpleNamespace

    import denoiser.onnx_runtime as onnx_runtime
    from denoiser.hub import read_config

    monkeypatch.setenv("DENOISER_CACHE", str(tmp_path / "cache"))
    exported = []

    def export(model, folder):
        exported.append(folder)
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(model.config.to_json())

    monkeypatch.setattr(onnx_runtime, "export_onnx", export)
    monkeypatch.setattr(onnx_runtime, "load_onnx",
                        lambda folder, threads: SimpleNamespace(config=read_config(folder / "config.json")))
    plain = onnx_runtime.onnx_model(str(tiny_model_dir))
    checked = onnx_runtime.onnx_model(str(toggled(tiny_model_dir, tmp_path / "checked")))
    assert plain.config.white_noise_check is False and checked.config.white_noise_check is True
    assert len(exported) == 2 and exported[0] != exported[1]
    onnx_runtime.onnx_model(str(tiny_model_dir))
    assert len(exported) == 2  # and each is reused


# 7. no process-wide state


def test_importing_the_batch_modules_never_sets_the_umask():
    code = ("import os\n"
            "def refuse(mask): raise SystemExit(f'os.umask({mask:o}) called at import')\n"
            "os.umask = refuse\n"
            "import denoiser.files, denoiser.storage, denoiser.journal, denoiser.batch, denoiser.io\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_relative_path_means_the_working_folder_of_each_call(tmp_path, monkeypatch):
    from denoiser.storage import open_location

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert open_location("photos")[1] == str(tmp_path / "a" / "photos")
    monkeypatch.chdir(tmp_path / "b")
    assert open_location("photos")[1] == str(tmp_path / "b" / "photos")


def test_ray_settings_are_put_back_after_a_run():
    import logging
    from types import SimpleNamespace

    from denoiser.ray_engine import quiet

    context = SimpleNamespace(enable_progress_bars=True, print_on_execution_start=True)
    logger = logging.getLogger("ray.data")
    logger.setLevel(logging.DEBUG)
    try:
        with quiet(context):
            assert context.enable_progress_bars is False and logger.level == logging.WARNING
        assert context.enable_progress_bars is True and context.print_on_execution_start is True
        assert logger.level == logging.DEBUG
        with pytest.raises(RuntimeError), quiet(context):
            raise RuntimeError("a failed run")
        assert context.enable_progress_bars is True and logger.level == logging.DEBUG
    finally:
        logger.setLevel(logging.NOTSET)


# 8. a name as long as the filesystem allows


def test_a_255_byte_name_is_written(tmp_path, tiny_model_dir, capsys):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "p" * (limit - 4) + ".png"  # 255 characters where NAME_MAX is 255
    photos = tmp_path / "photos"
    photo(photos / name)
    photo(photos / ("q" * (limit - 7) + ".jpeg"))
    args = [photos, "-o", tmp_path / "out", "--model", tiny_model_dir, "--sigma", 10]
    assert denoise(*args) == 0, capsys.readouterr().err
    assert sorted(outputs(tmp_path / "out")) == sorted(p.name for p in photos.iterdir())
    assert denoise(*args) == 0 and "done 0, skipped 2" in capsys.readouterr().out
