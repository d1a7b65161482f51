"""Publish a training run's exported model (RUN/model/) to a Hugging Face Hub model repo.

`python -m train push RUN_DIR OWNER/NAME [--private] [--revision BRANCH] [--endpoint URL]`

Everything goes up in a single commit: the files of RUN/model/ (config.json, model.safetensors,
README.md model card, curves.png, samples.png, and model.onnx + estimator.onnx where
`python -m train export RUN --onnx` wrote them: refused if they are of other weights) plus
RUN/log.csv as training_log.csv. The token
comes from the argument, else $HF_TOKEN, else the `hf auth login` cache; the endpoint from the
argument, else huggingface_hub's default (which honours $HF_ENDPOINT).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from denoiser.hub import CONFIG_NAME, WEIGHTS_NAME, ModelLoadError, load_folder, read_config
from denoiser.identity import weights_digest
from denoiser.onnx_export import ESTIMATOR_ONNX, MODEL_ONNX

LOG_NAME = "log.csv"
LOG_NAME_IN_REPO = "training_log.csv"
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")


def validate_repo_id(repo_id: str) -> str:
    """`owner/name` as the Hub accepts it (and as `denoiser.load_model` reads it back); else ValueError."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id as hf_validate

    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"bad repo id {repo_id!r}: expected OWNER/NAME, e.g. your-user/denoiser-gaussian")
    try:
        hf_validate(repo_id)
    except HFValidationError as err:
        raise ValueError(f"bad repo id {repo_id!r}: {err}") from None
    return repo_id


def files_to_push(run_dir: str | Path) -> dict[str, Path]:
    """{path in repo: local file} for a run folder; ValueError if it holds no finished export."""
    run = Path(run_dir)
    folder = run / "model"
    hint = (
        f"finish the run (or continue it with `python -m train --resume {run}`) so that it exports "
        f"{folder}/ with {CONFIG_NAME} and {WEIGHTS_NAME}"
    )
    if not run.is_dir():
        raise ValueError(f"{run}: no such run folder")
    if not folder.is_dir():
        raise ValueError(f"{folder}: missing; {hint}")
    missing = [name for name in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{folder}: no {' or '.join(missing)}; {hint}")
    try:
        read_config(folder / CONFIG_NAME)  # refuse to publish a config that load_model would reject
    except ModelLoadError as err:
        raise ValueError(str(err)) from None
    # Skip hidden files: the atomic writers leave `.name.XXXX` temporaries only while writing.
    files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}
    if (run / LOG_NAME).is_file():
        files[LOG_NAME_IN_REPO] = run / LOG_NAME
    return files


def _network_errors() -> tuple[type[BaseException], ...]:
    """What huggingface_hub's HTTP stack raises (HfHubHTTPError is an OSError; transport errors are not)."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):  # huggingface_hub 2.x uses httpx2, 1.x httpx
        try:
            errors.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def check_onnx_matches(folder: str | Path) -> None:
    """ValueError unless every graph in `folder` was exported from its model.safetensors (a run
    retrained or resumed after `export --onnx` leaves the old graphs behind)."""
    graphs = [Path(folder) / name for name in (MODEL_ONNX, ESTIMATOR_ONNX) if (Path(folder) / name).is_file()]
    if not graphs:
        return
    try:
        import onnx
    except ImportError:
        raise ValueError(f"{graphs[0]}: checking it against the weights needs onnx: pip install 'denoiser[onnx]'") from None
    expected = weights_digest(load_folder(folder))
    for path in graphs:
        meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
        if meta.get("weights_sha256") != expected:
            raise ValueError(f"{path}: exported from other weights than {Path(folder) / 'model.safetensors'}; "
                             "export it again (python -m train export RUN --onnx) or delete it")


def push_run(
    run_dir: str | Path,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Upload RUN/model/ (+ the training log) to `repo_id` in one commit; returns the commit URL.

    The repo is created if needed (`private` only applies then); `revision` names a branch,
    created from main if it does not exist yet. Raises ValueError for a bad run folder or repo id
    and RuntimeError (naming the repo and the endpoint) when the Hub refuses or cannot be reached.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    validate_repo_id(repo_id)
    if revision is not None and (not revision or _COMMIT_SHA.fullmatch(revision) or revision.startswith("refs/")):
        raise ValueError(f"--revision must be a branch name, got {revision!r}")
    files = files_to_push(run_dir)
    check_onnx_matches(Path(run_dir) / "model")  # graphs of older weights (a resumed run) would be published

    api = HfApi(endpoint=endpoint, token=token)
    where = f"{repo_id} on {api.endpoint}"
    step = "creating the repo"
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision and revision != "main":
            step = f"creating branch {revision}"
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        step = "uploading"
        info = api.create_commit(
            repo_id,
            operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in files.items()],
            commit_message=f"Upload denoiser trained in {Path(run_dir).resolve().name}",
            commit_description="Files: " + ", ".join(files),
            revision=revision,
        )
    except _network_errors() as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        hint = ""
        if status in (401, 403):
            hint = " (check your token: `hf auth login` or set HF_TOKEN to a token with write access)"
        elif status is None:
            hint = " (is the endpoint reachable? set HF_ENDPOINT or --endpoint for a mirror)"
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = " ".join(line for line in lines if not line.startswith("For more information check")) or repr(err)
        raise RuntimeError(f"pushing to {where} failed while {step}: {detail}{hint}") from err
    return str(info.commit_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train push",
        description="Upload a finished training run (RUN_DIR/model/ and its log) to a Hugging Face Hub model repo.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the training run folder (the one given to --out)")
    parser.add_argument("repo_id", metavar="REPO_ID", help="OWNER/NAME of the model repo (created if missing)")
    parser.add_argument("--private", action="store_true", help="create the repo as private (ignored if it exists)")
    parser.add_argument("--revision", metavar="BRANCH", help="push to this branch (created from main if missing)")
    parser.add_argument("--endpoint", metavar="URL", help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        url = push_run(args.run_dir, args.repo_id, private=args.private, revision=args.revision, endpoint=args.endpoint)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"pushed to {url}")
    return 0
