#!/usr/bin/env bash
# Serves the pushed models with the official TF Serving image (matching the
# TensorFlow that trained them): gRPC on 8500, REST on 8501.
#   bash serving/docker_run.sh [PUSH_DIR]     (default: outputs/serving_model)
# Then: .venv/bin/sparsectr serve-client --url http://localhost:8501 --data ROWS.tsv
set -euo pipefail
PUSH_DIR="$(cd "${1:-outputs/serving_model}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
exec docker run --rm -p 8500:8500 -p 8501:8501 \
  -v "$PUSH_DIR:/models" \
  -v "$HERE/models.config:/config/models.config:ro" \
  tensorflow/serving:2.16.1 \
  --model_config_file=/config/models.config \
  --model_config_file_poll_wait_seconds=60
