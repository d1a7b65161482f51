#!/usr/bin/env bash
# Refresh the locked versions from the ranges in pyproject.toml. After adding or changing a
# dependency there, run `bash tools/lock.sh` and commit what it changed. It writes:
#   requirements.lock  every package CI and the test suite install (runtime + the app, train and
#                      dev extras), exact versions with hashes, for Python 3.11 on linux x86_64.
#                      torch is left out: it is installed first, by itself (see .ci/run).
#   requirements.txt   what the Hugging Face Space installs: the runtime part of the same set
#                      (library, trainer, app) at the lock's versions, plus torch, without hashes.
# Versions already in the lock are kept; `bash tools/lock.sh --upgrade` moves every package to the
# newest release pyproject.toml allows (`--upgrade-package NAME` moves one). Run `bash .ci/run` on
# the result before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
# torch's CPU wheel, so that the lock holds the CPU build's dependencies (PyPI's torch for linux
# is the CUDA build, which adds some GB of nvidia-* packages). On this project's machines it
# lies in /opt/wheels; elsewhere download it and point TORCH_WHEELS at its folder:
#   pip download torch==2.13.0 --no-deps --index-url https://download.pytorch.org/whl/cpu -d DIR
TORCH_WHEELS=${TORCH_WHEELS:-/opt/wheels}
if ! compgen -G "$TORCH_WHEELS/torch-*+cpu-*.whl" >/dev/null; then
  echo "tools/lock.sh: no torch CPU wheel in $TORCH_WHEELS (set TORCH_WHEELS, see the comment above)" >&2
  exit 1
fi

python -m pip install -q --root-user-action=ignore "uv==$UV_VERSION"
compile=(python -m uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28
         --find-links "$TORCH_WHEELS" --custom-compile-command "bash tools/lock.sh"
         --annotation-style line --quiet)

"${compile[@]}" --extra app --extra train --extra dev --generate-hashes --no-emit-package torch \
  -o requirements.lock "$@"
if grep -qE '^(nvidia-|triton==)' requirements.lock; then
  echo "tools/lock.sh: the lock holds PyPI's CUDA torch's packages:" \
       "is the CPU wheel of the pinned torch in $TORCH_WHEELS?" >&2
  exit 1
fi
# The runtime part, held to the lock's versions. Written afresh each time (a torch==2.13.0 already in
# the output would steer uv to PyPI's CUDA build), then torch's pin without the wheel's +cpu tag: on
# the Space pip takes PyPI's torch of the same release, with whatever that build needs.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"${compile[@]}" --extra app --extra train --constraint requirements.lock -o "$tmp"
sed -E 's/^torch==([^+ ]+)\+cpu/torch==\1    /' "$tmp" > requirements.txt
