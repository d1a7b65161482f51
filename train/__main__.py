"""`python -m train ...` trains; `python -m train push RUN_DIR REPO_ID` publishes a finished run."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "push":
        from .push import main as push_main

        return push_main(argv[1:])
    from .config import parse_args, resume_config
    from .loop import train

    config, given = parse_args(argv)
    try:
        if config.resume:
            config = resume_config(config.resume, config, given)
        run = train(config)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if config.push_to_hub:
        from .push import push_run

        url = push_run(run, config.push_to_hub, private=config.private, revision=config.revision)
        print(f"pushed to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
