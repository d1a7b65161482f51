"""Load test of the app's /denoise API: concurrent gradio_client users against `python app.py`.

    python -m tools.load_test [--users 20] [--requests 5] [--size 256] [--rounds 2] [--timeout 600]
                              [--model DIR] [--ttl 5] [--json results.json]

Starts the app in a subprocess on 127.0.0.1 (a free port) with its own GRADIO_TEMP_DIR and
TMPDIR (fresh folders, so the files it leaves can be counted) and DENOISER_OUTPUT_TTL=--ttl.
The model: --model (anything $DENOISER_MODEL accepts), else the shipped weights when present
(the app then loads every shipped model and /denoise uses its photo default), else a tiny
random-weight model written into the work folder.

Each round, --users gradio_client users send --requests requests each to /denoise. The first
--same users form a group that sends the *same* image file at the same moment (a barrier before
each request), the race of byte-identical outputs on gradio's content-addressed cache; the
others each send their own image, unsynchronised. A warm-up request comes first. Every response
is checked (it downloads, decodes, has the input's shape; within the same-image group, the
pixels agree and the bytes differ).

Reported: requests, failures (with the first messages), p50 / p95 / max latency (upload, queue,
denoising and download), server RSS (peak sampled from /proc/<pid>/status, the kernel's VmHWM,
and RSS before the first round and after each round: a second identical round that keeps
growing points at a leak), error lines in the server log, and the files left in the app's output
folders and in gradio's cache right after the run and again after the TTL clean-up. The exit
status is 1 when any request failed, 2 on a set-up error. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python tools/load_test.py` as well as `python -m tools.load_test`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tools.load_server import LOG_MARKERS, RssSampler, file_counts, free_port, rss_kb, start_server, stop_server  # noqa: E402
from tools.load_test_report import print_table, write_readme_block  # noqa: E402


@dataclass
class Outcome:
    user: int
    round: int
    step: int
    same: bool
    seconds: float
    error: str | None = None
    sha: str | None = None  # of the response bytes
    pixels: str | None = None  # sha of the decoded pixels


@dataclass
class Stats:
    requests: int = 0
    failures: int = 0
    errors: list = field(default_factory=list)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None


def run_round(clients, images, same_users: int, requests: int, round_no: int, deadline: float) -> list[Outcome]:
    from gradio_client import handle_file

    from denoiser.io import read_image

    outcomes: list[Outcome] = []
    lock = threading.Lock()
    barrier = threading.Barrier(same_users) if same_users > 1 else None
    shapes = {path: read_image(path).shape for path in set(images)}

    def user(i: int) -> None:
        rng = np.random.default_rng([round_no + 1, i])
        for step in range(requests):
            same = i < same_users
            if barrier is not None and same:
                try:
                    barrier.wait(timeout=max(1.0, deadline - time.monotonic()))
                except threading.BrokenBarrierError:
                    pass
            elif not same:
                time.sleep(float(rng.uniform(0, 0.05)))
            outcome = Outcome(i, round_no, step, same, 0.0)
            start = time.perf_counter()
            try:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the run's time limit was reached before this request")
                job = clients[i].submit(handle_file(str(images[i])), None, None, api_name="/denoise")
                path, metrics = job.result(timeout=remaining)
                outcome.seconds = time.perf_counter() - start
                data = Path(path).read_bytes()
                pixels = read_image(path)
                if pixels.shape != shapes[images[i]]:
                    raise ValueError(f"output shape {pixels.shape} != input {shapes[images[i]]}")
                outcome.sha = hashlib.sha256(data).hexdigest()
                outcome.pixels = hashlib.sha256(pixels.tobytes()).hexdigest()
            except Exception as err:  # noqa: BLE001 - every failure is counted and reported
                outcome.seconds = time.perf_counter() - start
                outcome.error = f"{type(err).__name__}: {str(err)[:300]}"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=user, args=(i,), name=f"user-{i}") for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic() + 30))
        if t.is_alive() and barrier is not None:
            barrier.abort()
    return outcomes


def summarise(outcomes: list[Outcome]) -> Stats:
    stats = Stats(requests=len(outcomes))
    failed = [o for o in outcomes if o.error]
    stats.failures = len(failed)
    stats.errors = sorted({o.error for o in failed})[:10]
    ok = [o.seconds for o in outcomes if not o.error]
    if ok:
        stats.latency_p50_s = float(np.percentile(ok, 50))
        stats.latency_p95_s = float(np.percentile(ok, 95))
        stats.latency_max_s = float(np.max(ok))
    return stats


def same_image_check(outcomes: list[Outcome]) -> dict:
    """Within each (round, step) of the same-image group: equal pixels, distinct bytes."""
    groups: dict = {}
    for o in outcomes:
        if o.same and not o.error:
            groups.setdefault((o.round, o.step), []).append(o)
    responses = sum(len(g) for g in groups.values())
    distinct = sum(len({o.sha for o in g}) for g in groups.values())
    identical = all(len({o.pixels for o in g}) == 1 for g in groups.values())
    return {"responses": responses, "distinct_bytes": distinct, "identical_pixels": identical}


# ----------------------------------------------------------------------------- main


def make_images(folder: Path, users: int, same_users: int, size: int) -> list[Path]:
    """Noisy RGB test images of size x size: one shared by the same-image group, one per other user."""
    import skimage.data
    from skimage.transform import resize

    from denoiser.io import write_image

    base = resize(skimage.data.astronaut(), (size, size), anti_aliasing=True)
    folder.mkdir(parents=True, exist_ok=True)

    def noisy(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (np.clip(base + rng.normal(0, 25 / 255, base.shape), 0, 1) * 255 + 0.5).astype(np.uint8)

    same = folder / "same.png"
    write_image(same, noisy(0))
    images = []
    for i in range(users):
        if i < same_users:
            images.append(same)
        else:
            path = folder / f"user{i:02d}.png"
            write_image(path, noisy(i + 1))
            images.append(path)
    return images


def choose_model(arg: str | None, work: Path) -> tuple[str | None, str]:
    """(value for $DENOISER_MODEL or None for the shipped models, description)."""
    from denoiser.hub import SHIPPED_DIR, SHIPPED_MODELS, WEIGHTS_NAME, save_model

    if arg:
        return arg, arg
    shipped = [n for n in SHIPPED_MODELS if (SHIPPED_DIR / n / WEIGHTS_NAME).is_file()]
    if shipped:
        return None, "shipped: " + ", ".join(shipped)
    import torch

    from denoiser.model import build_model, preset

    torch.manual_seed(0)
    model = build_model(preset("default", widths=(8, 16), enc_blocks=(1,), dec_blocks=(1,), mid_blocks=1))
    folder = save_model(model, work / "tiny-model")
    return str(folder), "tiny random-weight model (no shipped weights in this checkout)"


def mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.load_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent gradio_client users (20)")
    parser.add_argument("--requests", type=int, default=5, help="requests per user per round (5)")
    parser.add_argument("--size", type=int, default=256, help="side of the square test images in pixels (256)")
    parser.add_argument("--same", type=int, default=None, help="users in the same-image group (default: half)")
    parser.add_argument("--rounds", type=int, default=2, help="identical rounds, for the RSS leak check (2)")
    parser.add_argument("--timeout", type=float, default=600, help="time limit for the whole run in seconds (600)")
    parser.add_argument("--model", default=None, help="model for $DENOISER_MODEL (default: shipped, else a tiny random one)")
    parser.add_argument("--ttl", type=int, default=5, help="DENOISER_OUTPUT_TTL for the server in seconds (5)")
    parser.add_argument(
        "--queue-size", type=int, default=None,
        help="DENOISER_QUEUE_SIZE (default: the app's own, 64; gradio refuses requests beyond it)",
    )
    parser.add_argument("--concurrency", type=int, default=None, help="DENOISER_CONCURRENCY (default: the app's, 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server log, caches)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="write the figures between the load-test markers of this README")
    args = parser.parse_args(argv)
    if args.users < 1 or args.requests < 1 or args.size < 8 or args.rounds < 1 or args.ttl < 1:
        parser.error("--users, --requests, --rounds and --ttl must be at least 1 and --size at least 8")
    args.same = args.users // 2 if args.same is None else args.same
    if not 0 <= args.same <= args.users:
        parser.error("--same must be between 0 and --users")
    return args


def server_env(args: argparse.Namespace, port: int, gradio_dir: Path, tmp_dir: Path, model_env: str | None) -> dict:
    """The app's environment: this one plus its address, fresh temporary folders (so the files it
    leaves can be counted), the TTL, the queue and concurrency settings, and the model."""
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_TEMP_DIR=str(gradio_dir), TMPDIR=str(tmp_dir), DENOISER_OUTPUT_TTL=str(args.ttl),
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    if args.queue_size:
        env["DENOISER_QUEUE_SIZE"] = str(args.queue_size)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if args.concurrency:
        env["DENOISER_CONCURRENCY"] = str(args.concurrency)
    if model_env is None:
        env.pop("DENOISER_MODEL", None)
    else:
        env["DENOISER_MODEL"] = model_env
    return env


def connect_clients(url: str, users: int, work: Path) -> list:
    """One gradio_client per user, connected in parallel, each downloading into its own folder."""
    from gradio_client import Client

    clients: list = [None] * users

    def connect(i: int) -> None:
        clients[i] = Client(url, verbose=False, download_files=str(work / "downloads" / f"user{i:02d}"))

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(c is None for c in clients):
        raise RuntimeError("could not connect every client (see above)")
    return clients


def run_rounds(clients: list, images: list[Path], args: argparse.Namespace, deadline: float,
               pid: int) -> tuple[list[Outcome], list[dict]]:
    """--rounds identical rounds: (every outcome, one summary per round with the server's RSS after it)."""
    outcomes, rounds = [], []
    for r in range(args.rounds):
        t0 = time.monotonic()
        got = run_round(clients, images, args.same, args.requests, r, deadline)
        wall = time.monotonic() - t0
        time.sleep(1)
        rss_after = rss_kb(pid)
        stats = summarise(got)
        rounds.append({"round": r + 1, "wall_s": round(wall, 2), "rss_after_mb": mb(rss_after), **asdict(stats)})
        print(f"round {r + 1}: {stats.requests} requests, {stats.failures} failed, {wall:.1f} s, "
              f"RSS {mb(rss_after)} MB", flush=True)
        outcomes += got
    return outcomes, rounds


def after_rounds(ttl: int, deadline: float, pid: int, sampler: RssSampler, gradio_dir: Path, tmp_dir: Path,
                 log: Path) -> dict:
    """What the server leaves: files right after the rounds and again after the TTL clean-up, its
    RSS then and at its peak, and the error markers in its log."""
    files_at_end = file_counts(gradio_dir, tmp_dir)
    # gradio's delete_cache and the app's pruner run every max(1, ttl // 2) s; files expire after ttl.
    wait = ttl + 2 * max(1, ttl // 2) + 2
    time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
    after = {"files_at_end": files_at_end, "files_after_ttl_cleanup": file_counts(gradio_dir, tmp_dir),
             "rss_end": rss_kb(pid), "hwm": rss_kb(pid, "VmHWM")}
    sampler.stop()
    log_text = log.read_text(errors="replace")
    after["server_log_markers"] = {m: log_text.count(m) for m in LOG_MARKERS if m in log_text}
    return after


def build_result(args: argparse.Namespace, env: dict, model_text: str, outcomes: list[Outcome], rounds: list[dict],
                 rss_started: int | None, rss_before: int | None, peak_kb: int | None, after: dict,
                 start_time: float) -> dict:
    """The run's record, as printed, written to --json and rendered into the README."""
    total = summarise(outcomes)
    growth = None
    if len(rounds) >= 2 and rounds[-1]["rss_after_mb"] is not None and rounds[-2]["rss_after_mb"] is not None:
        growth = round(rounds[-1]["rss_after_mb"] - rounds[-2]["rss_after_mb"], 1)
    return {
        "model": model_text,
        "users": args.users, "requests_per_user": args.requests, "rounds": args.rounds,
        "same_image_users": args.same, "size": args.size, "ttl_s": args.ttl,
        "queue_size": int(env.get("DENOISER_QUEUE_SIZE", 64)),
        **asdict(total),
        "same_image": same_image_check(outcomes),
        "rss_mb": {
            "started": mb(rss_started), "before": mb(rss_before),
            "after_rounds": [r["rss_after_mb"] for r in rounds], "after_ttl_cleanup": mb(after["rss_end"]),
            "peak_sampled": mb(peak_kb), "peak_vmhwm": mb(after["hwm"]), "growth_last_round": growth,
        },
        "files_at_end": after["files_at_end"],
        "files_after_ttl_cleanup": after["files_after_ttl_cleanup"],
        "server_log_markers": after["server_log_markers"],
        "rounds_detail": rounds,
        "wall_s": round(time.monotonic() - start_time, 1),
    }


def report(result: dict, args: argparse.Namespace, argv: list[str] | None) -> None:
    """The table on stdout, and the record into --json and --readme when asked."""
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.readme:
        write_readme_block(args.readme, result, argv)
        print(f"figures written into {args.readme}")


def main(argv=None) -> int:
    args = parse_args(argv)
    start_time = time.monotonic()
    deadline = start_time + args.timeout
    work = Path(tempfile.mkdtemp(prefix="denoiser-loadtest-"))
    gradio_dir, tmp_dir = work / "gradio", work / "tmp"
    gradio_dir.mkdir()
    tmp_dir.mkdir()
    proc = sampler = None
    try:
        model_env, model_text = choose_model(args.model, work)
        images = make_images(work / "images", args.users, args.same, args.size)
        port = free_port()
        env = server_env(args, port, gradio_dir, tmp_dir, model_env)
        print(f"work folder {work}; model: {model_text}", flush=True)
        proc = start_server(env, work / "server.log", port, min(deadline, time.monotonic() + 180))
        sampler = RssSampler(proc.pid)
        sampler.start()
        rss_started = rss_kb(proc.pid)
        clients = connect_clients(f"http://127.0.0.1:{port}/", args.users, work)

        warm = run_round(clients[:1], images[:1], 0, 1, -1, deadline)  # loads lazy imports, first-call costs
        if warm[0].error:
            raise RuntimeError(f"the warm-up request failed: {warm[0].error}")
        time.sleep(1)
        rss_before = rss_kb(proc.pid)

        outcomes, rounds = run_rounds(clients, images, args, deadline, proc.pid)
        after = after_rounds(args.ttl, deadline, proc.pid, sampler, gradio_dir, tmp_dir, work / "server.log")
        result = build_result(args, env, model_text, outcomes, rounds, rss_started, rss_before, sampler.peak_kb,
                              after, start_time)
        report(result, args, argv)
        return 1 if result["failures"] else 0
    except Exception as err:  # noqa: BLE001 - a set-up failure is one line, not a traceback
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    finally:
        try:
            if sampler is not None:
                sampler.stop()
        finally:
            if proc is not None:
                stop_server(proc)  # always, even if something above failed
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
