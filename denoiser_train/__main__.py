"""`python -m train ...` trains; `python -m train push RUN_DIR REPO_ID` publishes a finished run;
`python -m train export RUN_DIR DEST` copies it elsewhere (e.g. into denoiser/weights/NAME)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "push":
        from .push import main as push_main

        return push_main(argv[1:])
    if argv and argv[0] == "export":
        from .export import main as export_main

        return export_main(argv[1:])
    from .config import parse_args, resume_config
    from .loop import train

    from .push import push_run, validate_repo_id

    config, given = parse_args(argv)
    try:
        if config.resume:
            config = resume_config(config.resume, config, given)
        if config.push_to_hub:
            validate_repo_id(config.push_to_hub)  # a typo should fail now, not after hours of training
        run = train(config)
        if config.push_to_hub and _is_main_process():
            url = push_run(run, config.push_to_hub, private=config.private, revision=config.revision)
            print(f"pushed to {url}")
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


if __name__ == "__main__":
    sys.exit(main())
