"""The load test's results: the console table, the kept record (docs/load_test.json) and the README block
rendered from it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

README_START, README_END = "<!-- load-test:start -->", "<!-- load-test:end -->"


RECORD = Path(__file__).resolve().parents[1] / "docs" / "load_test.json"  # the run the README block quotes


def render_block(record: dict) -> str:
    """The README's load-test block (markers included) from a kept run record."""
    result, rss, same = record["result"], record["result"]["rss_mb"], record["result"]["same_image"]
    return "\n".join([
        README_START,
        f"Last run (`{record['command']}`, model {result['model']}): {result['requests']} requests from "
        f"{result['users']} concurrent users ({result['same_image_users']} sending the same image at once), "
        f"**{result['failures']} failed**; latency p50 {result['latency_p50_s']:.2f} s, p95 "
        f"{result['latency_p95_s']:.2f} s, max {result['latency_max_s']:.2f} s; same-image responses "
        f"{same['distinct_bytes']}/{same['responses']} distinct files with identical pixels; server memory "
        f"{rss['before']:.0f} MB before, {' / '.join(f'{v:.0f}' for v in rss['after_rounds'])} MB after each round, "
        f"peak {rss['peak_vmhwm']:.0f} MB. (Record: `docs/load_test.json`.)",
        README_END,
    ])


def write_readme_block(readme: Path, result: dict | None, argv, record_path: Path = RECORD) -> None:
    """Keep this run's figures in `record_path` and write the block rendered from it between the
    load-test markers of `readme`; result None re-renders the kept record."""
    from denoiser.files import atomic_write_text

    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme}: no {README_START} ... {README_END} markers")
    if result is None:
        record = json.loads(record_path.read_text())
    else:
        command = "python -m tools.load_test " + " ".join(argv if argv is not None else sys.argv[1:])
        record = {"command": command.strip(), "result": result}
        atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    atomic_write_text(readme, text[:start] + render_block(record) + text[end:])


def print_table(r: dict) -> None:
    def fmt(v):
        return "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))

    rss = r["rss_mb"]
    rows = [
        ("model", r["model"]),
        ("users x requests x rounds", f"{r['users']} x {r['requests_per_user']} x {r['rounds']} "
                                      f"({r['same_image_users']} send the same image at once), {r['size']}px"),
        ("requests", r["requests"]),
        ("failures", r["failures"]),
        ("latency p50 / p95 / max (s)", " / ".join(fmt(r[k]) for k in ("latency_p50_s", "latency_p95_s", "latency_max_s"))),
        ("same-image responses", f"{r['same_image']['responses']} ({r['same_image']['distinct_bytes']} distinct byte strings, "
                                 f"identical pixels: {r['same_image']['identical_pixels']})"),
        ("server RSS started / before (MB)", f"{fmt(rss['started'])} / {fmt(rss['before'])}"),
        ("server RSS after each round (MB)", " / ".join(fmt(v) for v in rss["after_rounds"])),
        ("server RSS growth in last round (MB)", fmt(rss["growth_last_round"])),
        ("server RSS after TTL clean-up (MB)", fmt(rss["after_ttl_cleanup"])),
        ("server peak RSS sampled / VmHWM (MB)", f"{fmt(rss['peak_sampled'])} / {fmt(rss['peak_vmhwm'])}"),
        ("files at end (gradio / outputs / examples)", "{gradio_cache} / {app_outputs} / {app_examples}".format(**r["files_at_end"])),
        (f"files after TTL {r['ttl_s']} s clean-up", "{gradio_cache} / {app_outputs} / {app_examples}".format(**r["files_after_ttl_cleanup"])),
        ("server log markers", ", ".join(f"{k}: {v}" for k, v in r["server_log_markers"].items()) or "none"),
        ("wall time (s)", r["wall_s"]),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for message in r["errors"]:
        print(f"  error: {message}")
