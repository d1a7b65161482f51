"""`denoiser denoise --engine ray` on a local Ray (this machine's 2 CPUs): the same bytes as the
local engine, a worker killed mid-run is retried and the run completes, a driver killed mid-run
and rerun completes with every output once; and URIs (file://, through pyarrow.fs, as s3:// would
go) give the same outputs and a journal of whole segments.

Ray Data and pyarrow come with the cluster extra; CI installs them (requirements.lock), so there
these tests fail rather than skip when they are missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_support import ROOT, cli, done_counts, library, outputs, stray_files
from test_batch import slow_model


def need(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is missing: CI installs the cluster extra from requirements.lock")
        pytest.skip(f"{module} not installed (pip install '.[cluster]')")


@pytest.fixture(scope="module")
def library_and_reference(tmp_path_factory):
    """24 images of mixed sizes and bit depths, a model slow enough to kill mid-run, and what the
    single-process command writes for them."""
    need("ray.data")
    folder = tmp_path_factory.mktemp("ray")
    model = slow_model(folder / "model")
    photos = library(folder / "photos", count=24, size=120)
    result = cli("denoise", photos, "-o", folder / "reference", "--model", model, "--sigma", 20)
    assert result.returncode == 0, result.stderr
    return photos, model, outputs(folder / "reference")


def ray_env() -> dict:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)  # a local Ray, never someone's cluster
    return env


def start_ray_run(photos: Path, out: Path, model: Path) -> subprocess.Popen:
    """The command in a session of its own, so that it and the local Ray it starts can be killed together."""
    return subprocess.Popen([sys.executable, "-m", "denoiser", "denoise", str(photos), "-o", str(out), "--model",
                             str(model), "--sigma", "20", "--engine", "ray"], cwd=ROOT, env=ray_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_outputs(out: Path, run: subprocess.Popen, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        if out.is_dir() and len(outputs(out)) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {count} outputs in {timeout} s (exit status {run.poll()})")


def end_session(run: subprocess.Popen) -> None:
    """Kill whatever of the run's session is still there (Ray's agents outlive a killed driver)."""
    try:
        os.killpg(run.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    run.wait(timeout=60)


def actor_processes(session: int) -> list[int]:
    """The Ray Data actors (ray::MapWorker(MapBatches(DenoiseActor))) of one session, still running."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if b"DenoiseActor" in (proc / "cmdline").read_bytes():
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] != "Z" and int(fields[3]) == session:  # state, session id
                    found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def test_a_killed_worker_is_retried_and_the_outputs_match_the_local_engine(library_and_reference, tmp_path):
    photos, model, reference = library_and_reference
    out = tmp_path / "out"
    run = start_ray_run(photos, out, model)
    try:
        wait_for_outputs(out, run, 3)
        actors = actor_processes(run.pid)
        assert actors, "no Ray Data actor found to kill"
        os.kill(actors[0], signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=300)
    finally:
        end_session(run)
    assert run.returncode == 0, stderr[-3000:]
    assert "done 24, skipped 0 (already done), failed 0" in stdout
    assert outputs(out) == reference  # byte for byte what the single-process command writes
    assert stray_files(out) == [] and done_counts(out) == {name: 1 for name in reference}


def test_a_driver_killed_mid_run_resumes_with_no_duplicates(library_and_reference, tmp_path):
    photos, model, reference = library_and_reference
    out = tmp_path / "out"
    run = start_ray_run(photos, out, model)
    try:
        wait_for_outputs(out, run, 3)
        os.killpg(run.pid, signal.SIGKILL)  # the driver and the local Ray with it: a lost head node
    finally:
        end_session(run)
    written = outputs(out)
    assert 0 < len(written) < len(reference), "the kill should land mid-run"
    assert all(data == reference[name] for name, data in written.items())  # nothing half-written
    journaled = len(done_counts(out))

    rerun = start_ray_run(photos, out, model)
    try:
        stdout, stderr = rerun.communicate(timeout=300)
    finally:
        end_session(rerun)
    assert rerun.returncode == 0, stderr[-3000:]
    assert outputs(out) == reference and stray_files(out) == []
    assert done_counts(out) == {name: 1 for name in reference}  # each output recorded done once
    assert f"skipped {journaled} (already done)" in stdout  # what the first run journaled is not done again


def test_uris_go_through_pyarrow_with_the_same_bytes_and_a_segmented_journal(tmp_path, tiny_model_dir):
    need("pyarrow.fs")
    photos = library(tmp_path / "photos", count=6)
    assert cli("denoise", photos, "-o", tmp_path / "plain", "--model", tiny_model_dir, "--sigma", 10).returncode == 0
    args = ["denoise", f"file://{photos}", "-o", f"file://{tmp_path / 'uri'}", "--model", tiny_model_dir, "--sigma", 10]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "uri") == outputs(tmp_path / "plain")
    segments = list((tmp_path / "uri" / ".denoiser-journal").glob("*-000000.jsonl"))
    assert segments and not (tmp_path / "uri" / ".denoiser-journal" / "lock").exists()  # segments, not appends
    again = cli(*args)
    assert again.returncode == 0 and "done 0, skipped 6" in again.stdout
