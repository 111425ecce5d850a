#!/usr/bin/env bash
# The generated tables of README.md and docs/, from committed results (scripts/make_docs.py).
# --check: compare only (trains and runs nothing); exit 1 naming the file and block that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/make_docs.py "$@"
