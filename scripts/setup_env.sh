#!/usr/bin/env bash
# Creates (or updates) the project's environment in .venv/ with the pinned set.
# Re-running is cheap: it installs only when constraints.txt, setup.py or the extras changed.
# Extra arguments name optional extras: `bash scripts/setup_env.sh bench` adds PyTorch and FuxiCTR
# for benchmarks/trainer_vs_peers.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup_env.sh: Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
extras=$(IFS=,; echo "dev${*:+,$*}")
stamp=$( (cat constraints.txt setup.py; echo "$extras") | sha256sum | cut -c1-16)
if [ "$(cat .venv/.sparsectr-installed 2>/dev/null)" != "$stamp" ]; then
  echo "Installing the pinned packages into .venv (a few minutes the first time)"
  # TFX 1.16 declares Python < 3.11 but its 1.16 line runs on 3.11: see constraints.txt.
  .venv/bin/pip install --quiet --disable-pip-version-check --ignore-requires-python --prefer-binary \
    -c constraints.txt -e ".[$extras]"
  echo "$stamp" > .venv/.sparsectr-installed
fi
.venv/bin/sparsectr --help >/dev/null
echo "Environment ready: .venv/bin/sparsectr"
