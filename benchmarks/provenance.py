"""Where a results.json came from: the git revision (and any uncommitted change to the code that
measured it), the exact command, the date, the CPU, the thread count and the torch version. Each
card prints it, so a figure can be traced to the code and machine that produced it."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CODE = ("denoiser/*.py", "benchmarks/*.py")  # uncommitted changes here would change what was measured


def provenance(argv: list[str] | None = None) -> dict:
    """This process's provenance: {"revision", "uncommitted", "command", "date", "cpu", "threads",
    "torch", "load_average"} (load_average: the 1-minute load when measuring began; another busy
    process on the machine slows every timing)."""
    return {"revision": (_git("rev-parse", "HEAD") or "").strip() or None, "uncommitted": _uncommitted(), "command": command(argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "load_average": round(os.getloadavg()[0], 2)}


def command(argv: list[str] | None = None) -> str:
    """The command line as typed: `python -m benchmarks ...` when run as a module."""
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name == "__main__.py":
        return shlex.join(["python", "-m", Path(argv[0]).parent.name, *argv[1:]])
    return shlex.join(["python", *argv]) if argv and argv[0].endswith(".py") else shlex.join(argv)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _uncommitted() -> list[str]:
    status = _git("status", "--porcelain", "--", *CODE)
    return sorted(line[3:] for line in status.splitlines()) if status else []


def provenance_lines(results: dict) -> list[str]:
    """The card's "Provenance" section: of the whole measurement, and of a speed section re-timed later."""
    lines = ["", "## Provenance", ""]
    recorded = [("Measured", results.get("provenance")), ("Speed re-timed", results.get("speed", {}).get("provenance"))]
    if not any(p for _, p in recorded):
        return lines + ["Not recorded: measured before results.json recorded its provenance."]
    if not results.get("provenance"):
        lines += ["The measurements other than speed: not recorded (made before results.json recorded its provenance).", ""]
    for what, prov in recorded:
        if not prov:
            continue
        revision = (prov.get("revision") or "unknown")[:12]
        dirty = f" with uncommitted changes to {', '.join(f'`{p}`' for p in prov['uncommitted'])}" if prov.get("uncommitted") else ""
        lines += [f"{what} on {prov['date']} at revision `{revision}`{dirty}, by", "", "```bash", prov["command"], "```", "",
                  f"on {prov['cpu']}, {prov['threads']} torch thread(s), torch {prov['torch']} "
                  f"(load average {prov['load_average']:g} when it began).", ""]
    return lines[:-1]
