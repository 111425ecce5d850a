"""ServingPusher's executor: TFX Pusher's blessing check and filesystem push,
with the evaluation written into the version before TF Serving can see it.

Order of writes: the model and `assets.extra/evaluation.json` go to the
PushedModel artifact (the archive), then to a temporary directory beside the
versions, `<base>/.incomplete-<version>` (TF Serving takes only numeric names
as versions), which is renamed to `<base>/<version>/` once complete: a reader
sees the whole version or none. A push that crashed leaves its temporary
directory behind; the next push removes it.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

from absl import logging
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils

from components.serving_pusher.spec import EVALUATION_KEY, MIN_SLICE_SIZE_KEY, SERVING_DIR_KEY
from evaluation.results import slice_metrics
from models.run_files import ASSETS_EXTRA

EVALUATION_FILE = "evaluation.json"
SAVED_MODEL_FILE = "saved_model.pb"
INCOMPLETE_PREFIX = ".incomplete-"


def copy_model(src: str, dst: str) -> None:
    """Copies a SavedModel directory, saved_model.pb last."""
    io_utils.copy_dir(src, dst, deny_regex_patterns=[r"saved_model\.pb"])
    io_utils.copy_file(os.path.join(src, SAVED_MODEL_FILE), os.path.join(dst, SAVED_MODEL_FILE))


def remove_incomplete_pushes(base: str) -> list[str]:
    """Removes what crashed pushes left under `base`; returns the removed directories."""
    if not fileio.exists(base):
        return []
    left = [os.path.join(base, name.rstrip("/")) for name in fileio.listdir(base)
            if name.startswith(INCOMPLETE_PREFIX)]
    for path in left:
        logging.warning("Removing %s, left by an interrupted push", path)
        fileio.rmtree(path)
    return left


def push_version(model_dir: str, base: str, version: str) -> str:
    """Copies the SavedModel to `<base>/<version>/` atomically: into a temporary directory on the same
    filesystem, then renamed into place (a rename is atomic on a local filesystem)."""
    remove_incomplete_pushes(base)
    target = os.path.join(base, version)
    if fileio.exists(target):
        raise RuntimeError(f"ServingPusher: {target} already exists; versions are seconds since the "
                           "epoch, so two pushes came within one second. Re-run the pipeline.")
    staging = os.path.join(base, INCOMPLETE_PREFIX + version)
    copy_model(model_dir, staging)
    fileio.rename(staging, target)
    return target


class Executor(tfx_pusher.Executor):
    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed)
            return
        version = str(int(time.time()))
        evaluation = artifact_utils.get_single_instance(input_dict[EVALUATION_KEY])
        # The component always sets it (components/serving_pusher/component.py).
        min_slice_size = int(json.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])[MIN_SLICE_SIZE_KEY])
        copy_model(self.GetModelPath(input_dict), pushed.uri)
        fileio.makedirs(os.path.join(pushed.uri, ASSETS_EXTRA))
        with fileio.open(os.path.join(pushed.uri, ASSETS_EXTRA, EVALUATION_FILE), "w") as f:
            json.dump({"evaluation": evaluation.uri, "min_slice_size": min_slice_size,
                       "slices": slice_metrics(evaluation.uri, min_slice_size)}, f, indent=1, sort_keys=True)
        serving_path = push_version(pushed.uri, exec_properties[SERVING_DIR_KEY], version)
        self._MarkPushed(pushed, pushed_destination=serving_path, pushed_version=version)
        logging.info("Model version %s pushed to %s", version, serving_path)
