"""The files a Trainer run leaves for the rest of the pipeline (the Evaluator's checks, the run
summary, the report) and their readers, without TensorFlow."""
from __future__ import annotations

import json
import os
from typing import Any, Optional

from tfx.utils import path_utils

HISTORY_FILE = "history.json"  # in the Trainer's model_run directory: per-epoch metrics
TENSORBOARD_DIR = "tensorboard"  # in the Trainer's model_run directory
TRAINING_KEY = "training"  # in model_config.json: the rows trained on and the settings sized to them
ASSETS_EXTRA = "assets.extra"
CONFIG_FILE = "model_config.json"


def trained_model_config(model_dir: str) -> dict[str, Any]:
    """The settings a Trainer model was trained with (sized ones filled in), and its training rows."""
    with open(os.path.join(path_utils.serving_model_path(model_dir), ASSETS_EXTRA, CONFIG_FILE)) as f:
        return json.load(f)


def training_history(model_run_dir: Optional[str]) -> Optional[dict[str, list[float]]]:
    """A Trainer run's per-epoch metrics (models/trainer.py writes them), or None."""
    if not model_run_dir or not os.path.exists(os.path.join(model_run_dir, HISTORY_FILE)):
        return None
    with open(os.path.join(model_run_dir, HISTORY_FILE)) as f:
        return json.load(f)
