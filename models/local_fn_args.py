"""The FnArgs TFX's Trainer would give run_fn, built from a Transform output's directories: for
running the Trainer outside a pipeline (a worker of a multi-worker job started by hand, the
input-pipeline benchmark)."""
from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
from tfx.components.trainer import fn_args_utils
from tfx.types import artifact_utils, standard_artifacts

from models.hparams import MODEL_CONFIG_KEY

_SPLIT_PREFIX = "Split-"


def local_fn_args(transform_graph: str, transformed_examples: str, out: str, model: dict[str, Any],
                  train_split: str = "train", eval_split: str = "eval") -> fn_args_utils.FnArgs:
    """FnArgs for `run_fn` on Transform's output; the model goes to OUT/model/1/Format-Serving and
    the run's logs to OUT/model_run/1 (TFX's layout)."""
    examples = standard_artifacts.Examples()
    examples.uri = transformed_examples
    splits = sorted(os.path.basename(p)[len(_SPLIT_PREFIX):]
                    for p in tf.io.gfile.glob(os.path.join(transformed_examples, _SPLIT_PREFIX + "*")))
    if not {train_split, eval_split} <= set(splits):
        raise FileNotFoundError(f"{transformed_examples}: expected Split-{train_split} and Split-{eval_split} "
                                f"(Transform's transformed_examples), found {splits}")
    examples.split_names = artifact_utils.encode_split_names(splits)
    graph = standard_artifacts.TransformGraph()
    graph.uri = transform_graph
    args = fn_args_utils.get_common_fn_args(
        {"examples": [examples], "transform_graph": [graph]},
        {"train_args": json.dumps({"splits": [train_split]}), "eval_args": json.dumps({"splits": [eval_split]}),
         "custom_config": json.dumps({MODEL_CONFIG_KEY: model})})
    args.serving_model_dir = os.path.join(out, "model", "1", "Format-Serving")
    args.model_run_dir = os.path.join(out, "model_run", "1")
    return args
