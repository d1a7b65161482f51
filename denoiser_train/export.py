"""`python -m train export RUN_DIR DEST [--after EARLIER_RUN ...]`: copy a finished run's model
folder, with its training config and log, to DEST (e.g. denoiser/weights/gaussian to ship it inside
the package). A run that was initialised (--init) from earlier runs names them with --after, oldest
first: their configs and logs go to DEST/stages/<k>/, so the model card can give every command.
--onnx also writes model.onnx (+ estimator.onnx) beside the weights, into DEST, or without DEST into
RUN_DIR/model/, where `python -m train push` uploads it with the safetensors.
--wise A ships A x the fine-tuned weights + (1 - A) x the weights the run started from (its first --init):
weight-space ensembling (WiSE-FT, Wortsman et al., CVPR 2022), which keeps more of what the starting model
did well (white noise, for the photo model) than either end for the same gain on the new data."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from denoiser.hub import load_folder
from denoiser.onnx_export import export_onnx

from .checkpoint import find_checkpoint
from .push import check_onnx_matches, files_to_push

EXTRA = ("train_config.json", "log.json", "init_sources.json")  # init_sources: the SHA-256 of each --init


def export_weights(run_dir: str | Path, dest: str | Path, after: tuple[str | Path, ...] = (),
                   checkpoint: str | None = None, onnx: bool = False, wise: float | None = None) -> Path:
    """Replace DEST with RUN/model/* plus train_config.json and the logs (swapped in at the end);
    the runs in `after` (earlier stages) contribute their train_config.json and log.json.
    checkpoint ("best", "latest" or "step-N") ships that checkpoint's weights (the EMA when the run
    kept one) instead of the run's final export, and records which in selected.json; the log is
    kept whole, so the card can say where on the curve the weights came from. onnx: also the ONNX
    graphs of the weights exported (made in the staging folder, so DEST never holds stale ones). wise: see
    the module's notes; recorded in selected.json with the starting weights' source and SHA-256."""
    run, dest = Path(run_dir), Path(dest)
    files = _checkpoint_files(run, checkpoint) if checkpoint else files_to_push(run)
    if wise is not None:
        files = _averaged_with_start(run, files, wise)
    if not checkpoint and not onnx and wise is None:
        check_onnx_matches(run / "model")  # copied as they are: graphs of older weights would ship
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
        if onnx:
            export_onnx(load_folder(staging), staging)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return dest


def export_onnx_in_run(run_dir: str | Path) -> list[Path]:
    """model.onnx (+ estimator.onnx) of RUN/model/'s weights, written beside them; returns the files."""
    folder = Path(run_dir) / "model"
    return export_onnx(load_folder(folder), folder)  # load_folder: a clear error for an unfinished run


def _checkpoint_files(run: Path, which: str) -> dict[str, Path]:
    """config.json, model.safetensors and selected.json of one checkpoint, staged in a temp folder."""
    from denoiser.hub import load_folder, save_model

    folder = find_checkpoint(run, which)
    if folder is None:
        raise ValueError(f"{run}: no checkpoints")
    staging = Path(tempfile.mkdtemp(prefix="export-"))
    weights = folder / ("ema.safetensors" if (folder / "ema.safetensors").is_file() else "model.safetensors")
    shutil.copy2(folder / "config.json", staging / "config.json")
    shutil.copy2(weights, staging / "model.safetensors")
    save_model(load_folder(staging), staging)  # loads strictly: a broken checkpoint fails here, not later
    step = json.loads((folder / "state.json").read_text())["step"]
    (staging / "selected.json").write_text(json.dumps({"checkpoint": which, "step": step,
                                                       "weights": "EMA" if weights.name == "ema.safetensors" else "raw"}) + "\n")
    files = {name: staging / name for name in ("config.json", "model.safetensors", "selected.json")}
    for name in ("curves.png", "samples.png"):  # the run's figures, where it exported them
        if (run / "model" / name).is_file():
            files[name] = run / "model" / name
    return files


def _averaged_with_start(run: Path, files: dict[str, Path], wise: float) -> dict[str, Path]:
    """`files` with model.safetensors replaced by wise x it + (1 - wise) x the run's starting weights, and
    selected.json saying so."""
    from denoiser.hub import load_folder, save_model

    from .init_sources import load_source

    if not 0 < wise < 1:
        raise ValueError(f"--wise must be between 0 and 1 (the fine-tuned weights' share), got {wise}")
    config = json.loads((run / "train_config.json").read_text()) if (run / "train_config.json").is_file() else {}
    init = config.get("init") or []
    if not init:
        raise ValueError(f"--wise: {run} did not start from other weights (no --init), so there is nothing to average with")
    recorded = json.loads((run / "init_sources.json").read_text()).get(init[0]) if (run / "init_sources.json").is_file() else None
    start, sha256 = load_source(init[0])
    if recorded and sha256 != recorded:
        raise ValueError(f"--wise: {init[0]} is no longer the weights {run} started from (SHA-256 {sha256[:12]}, "
                         f"the run recorded {recorded[:12]}): give it as NAME@REVISION in the run's train_config.json")
    staging = Path(tempfile.mkdtemp(prefix="export-wise-"))
    shutil.copy2(files["config.json"], staging / "config.json")
    shutil.copy2(files["model.safetensors"], staging / "model.safetensors")
    tuned = load_folder(staging)
    starting = start.state_dict()
    averaged = {name: wise * value + (1 - wise) * starting[name] if value.is_floating_point() else value
                for name, value in tuned.state_dict().items()}
    tuned.load_state_dict(averaged)
    save_model(tuned, staging)
    selected = json.loads(files["selected.json"].read_text()) if "selected.json" in files else {"checkpoint": "final"}
    selected.update({"wise": wise, "start": init[0], "start_sha256": sha256})
    (staging / "selected.json").write_text(json.dumps(selected) + "\n")
    kept = {name: path for name, path in files.items() if not name.endswith(".onnx")}  # graphs of the unaveraged weights
    return {**kept, "config.json": staging / "config.json", "model.safetensors": staging / "model.safetensors",
            "selected.json": staging / "selected.json"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m train export", description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("dest", nargs="?", help="where to copy the model folder (optional with --onnx)")
    parser.add_argument("--after", nargs="+", default=(), metavar="EARLIER_RUN",
                        help="the runs this one was initialised from, oldest first (their configs and logs are kept)")
    parser.add_argument("--checkpoint", default=None, metavar="best|latest|step-N",
                        help="ship this checkpoint (e.g. best: the lowest validation loss) instead of the final export")
    parser.add_argument("--wise", type=float, default=None, metavar="A",
                        help="ship A x the trained weights + (1 - A) x the weights the run started from (WiSE-FT)")
    parser.add_argument("--onnx", action="store_true",
                        help="also write model.onnx (+ estimator.onnx for a model with a noise estimator) beside the weights; "
                             "without DEST, into RUN_DIR/model/ for push")
    args = parser.parse_args(argv)
    if args.dest is None and (not args.onnx or args.after or args.checkpoint or args.wise is not None):
        parser.error("give DEST (or --onnx alone, to write the ONNX graphs into RUN_DIR/model/)")
    try:
        if args.dest is None:
            print("wrote " + ", ".join(str(p) for p in export_onnx_in_run(args.run_dir)))
        else:
            print(f"exported to {export_weights(args.run_dir, args.dest, tuple(args.after), args.checkpoint, args.onnx, args.wise)}")
    except ImportError as err:  # the onnx extra is missing
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
