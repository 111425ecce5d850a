#!/usr/bin/env bash
# Makes a local Debian bookworm image with Python 3.11 for kubeflow/Dockerfile's BASE_IMAGE, from
# Debian's package registry alone (for machines that cannot reach Docker Hub; run as root):
#   scripts/make_debian_base.sh [NAME]     (default localhost/debian-python:bookworm)
# Needs debootstrap and podman (apt-get install -y podman runc debootstrap).
set -euo pipefail
name=${1:-localhost/debian-python:bookworm}
if podman image exists "$name"; then
  echo "$name exists"
  exit 0
fi
rootfs=$(mktemp -d /var/tmp/debian-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm into $rootfs (about a minute)"
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" >/dev/null
tar -C "$rootfs" -c . | podman import - "$name" >/dev/null
echo "$name imported"
