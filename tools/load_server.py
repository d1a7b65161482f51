"""The app under load test: starting and stopping `python app.py`, its memory, and the files it leaves."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOG_MARKERS = ("Too little data", "Traceback", "Exception in ASGI", "peer closed")


def rss_kb(pid: int, key: str = "VmRSS") -> int | None:
    """A memory figure of /proc/<pid>/status in kB (VmRSS: now; VmHWM: peak), None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class RssSampler(threading.Thread):
    """Samples the server's VmRSS every `interval` seconds; .peak_kb is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            value = rss_kb(self.pid)
            if value is None:
                return
            self.peak_kb = max(self.peak_kb, value)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, log_path: Path, port: int, deadline: float) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - kept open for the server's lifetime
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/config"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with status {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"the app did not answer on {url} in time:\n{log_path.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # lets gradio run its shutdown (and delete_cache) hooks
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count_files(folder: Path, pattern: str = "*") -> int:
    total = 0
    for sub in folder.glob(pattern):
        if sub.is_file():
            total += 1
        elif sub.is_dir():
            total += sum(1 for p in sub.rglob("*") if p.is_file())
    return total


def file_counts(gradio_dir: Path, tmp_dir: Path) -> dict:
    return {
        "gradio_cache": count_files(gradio_dir),
        "app_outputs": count_files(tmp_dir, "denoiser-app-*"),
        "app_examples": count_files(tmp_dir, "denoiser-examples-*"),
        "other_tmp": sum(1 for p in tmp_dir.rglob("*") if p.is_file())
        - count_files(tmp_dir, "denoiser-app-*")
        - count_files(tmp_dir, "denoiser-examples-*"),
    }
