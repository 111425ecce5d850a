#!/usr/bin/env bash
# Builds the Kubeflow component image from kubeflow/Dockerfile.
#   scripts/build_image.sh [--tag sparsectr:latest] [--base python:3.11-slim] [--engine podman|docker]
#                          [-- EXTRA ENGINE BUILD FLAGS]
# First fills .wheelhouse/ on the host with every pinned package as a wheel (pip download, then
# pip wheel for the few sdists), so the image build needs no network and installs exactly the
# pinned set. The wheelhouse is kept until constraints.txt or setup.py change.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=sparsectr:latest
base=python:3.11-slim
engine=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "build_image.sh: unknown argument '$1' (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
fi
command -v "$engine" >/dev/null 2>&1 || { echo "build_image.sh: '$engine' is not installed" >&2; exit 2; }
PIP="${PIP:-.venv/bin/pip}"
[ -x "$PIP" ] || { echo "build_image.sh: $PIP not found; run scripts/setup_env.sh first or set PIP" >&2; exit 2; }

wheelhouse=.wheelhouse
stamp=$(cat constraints.txt setup.py | sha256sum | cut -c1-16)
if [ "$(cat "$wheelhouse/.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "Filling $wheelhouse/ with the pinned packages (about a minute)"
  rm -rf "$wheelhouse" && mkdir -p "$wheelhouse"
  # setuptools and wheel build the project's metadata; async-timeout is what redis needs on a
  # Python older than 3.11.3 (Debian bookworm has 3.11.2), which this host's pip does not see.
  "$PIP" download --quiet --disable-pip-version-check --ignore-requires-python --prefer-binary \
    -c constraints.txt -d "$wheelhouse" . setuptools wheel async-timeout 2> >(grep -v "^WARNING: Location" >&2)
  shopt -s nullglob
  sdists=("$wheelhouse"/*.tar.gz "$wheelhouse"/*.zip)
  if [ ${#sdists[@]} -gt 0 ]; then
    "$PIP" wheel --quiet --disable-pip-version-check --no-deps -w "$wheelhouse" "${sdists[@]}" \
      2> >(grep -v "^WARNING: Location" >&2)
    rm -f "${sdists[@]}"
  fi
  echo "$stamp" > "$wheelhouse/.stamp"
fi
echo "Building $tag from $base with $engine"
"$engine" build -f kubeflow/Dockerfile --build-arg BASE_IMAGE="$base" -t "$tag" "$@" .
