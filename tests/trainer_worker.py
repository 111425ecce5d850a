"""One Trainer worker outside TFX's executor: the product's run_fn on a Transform output. A
multi-worker job is N of these with TF_CONFIG set, as a cluster launcher (Vertex AI Training, a
Kubeflow TFJob) would start them.

Usage: python tests/trainer_worker.py TRANSFORM_GRAPH TRANSFORMED_EXAMPLES OUT_DIR MODEL_CONFIG_JSON
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from models.local_fn_args import local_fn_args  # noqa: E402
from models.trainer import run_fn  # noqa: E402

if __name__ == "__main__":
    run_fn(local_fn_args(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
