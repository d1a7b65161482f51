"""`python -m train export RUN_DIR DEST [--after EARLIER_RUN ...]`: copy a finished run's model
folder, with its training config and log, to DEST (e.g. denoiser/weights/gaussian to ship it inside
the package). A run that was initialised (--init) from earlier runs names them with --after, oldest
first: their configs and logs go to DEST/stages/<k>/, so the model card can give every command."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .push import files_to_push

EXTRA = ("train_config.json", "log.json")


def export_weights(run_dir: str | Path, dest: str | Path, after: tuple[str | Path, ...] = ()) -> Path:
    """Replace DEST with RUN/model/* plus train_config.json and the logs (swapped in at the end);
    the runs in `after` (earlier stages) contribute their train_config.json and log.json."""
    run, dest = Path(run_dir), Path(dest)
    files = files_to_push(run)  # the same checks as publishing: a finished, loadable export
    for earlier in map(Path, after):
        if not (earlier / "train_config.json").is_file():
            raise ValueError(f"--after {earlier}: not a training run (no train_config.json)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        for name, path in files.items():
            shutil.copy2(path, staging / name)
        for name in EXTRA:
            if (run / name).is_file():
                shutil.copy2(run / name, staging / name)
        for index, earlier in enumerate(map(Path, after), 1):
            (staging / "stages" / str(index)).mkdir(parents=True)
            for name in EXTRA:
                if (earlier / name).is_file():
                    shutil.copy2(earlier / name, staging / "stages" / str(index) / name)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return dest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m train export", description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("dest")
    parser.add_argument("--after", nargs="+", default=(), metavar="EARLIER_RUN",
                        help="the runs this one was initialised from, oldest first (their configs and logs are kept)")
    args = parser.parse_args(argv)
    try:
        print(f"exported to {export_weights(args.run_dir, args.dest, tuple(args.after))}")
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
