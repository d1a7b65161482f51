"""tools/batch_speed.py, whose output the README's "Many photos" table is: it runs every engine
on the same photos and prints one row each (a tiny model and 3 small photos here)."""

from __future__ import annotations

import re
import subprocess
import sys

from batch_support import ROOT
from test_ray_engine import need, ray_env


def test_the_benchmark_times_each_engine(tiny_model_dir):
    need("ray.data")
    result = subprocess.run([sys.executable, "-m", "tools.batch_speed", "--count", "3", "--size", "32", "--model",
                             str(tiny_model_dir), "--workers", "1", "--local-threads", "1"], cwd=ROOT, env=ray_env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r"^(local|ray)\s+.*?\s([\d.]+)\s+([\d.]+)\s+([\d.]+)$", result.stdout, re.M)
    assert [r[0] for r in rows] == ["local", "ray"], result.stdout
    assert all(float(rate) > 0 and float(first) <= float(seconds) for _, seconds, first, rate in rows)
    assert "3 photos of 32x32" in result.stdout and "load average" in result.stdout
