"""Executors of Transform, Trainer and Evaluator that apply a run's settings (spec.py), then
run the stock executor unchanged."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Optional

import tensorflow_model_analysis as tfma
from absl import logging
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.trainer import executor as trainer_executor
from tfx.components.transform import executor as transform_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.run_settings.spec import (BLESSING_SETTINGS, MODEL_CHECKS_KEY, MODEL_RUN_KEY, MODEL_SETTINGS,
                                          REFERENCE_EVALUATION_KEY, TUNED_ALPHA)
from evaluation.config import set_blessing_thresholds
from evaluation.model_checks import Refusal, check_model
from evaluation.results import OVERALL, slice_metrics
from evaluation.thresholds import ModelChecks
from models.hparams import MODEL_CONFIG_KEY, ModelConfig
from models.run_files import TRAINING_KEY, trained_model_config, training_history

# In the blessing artifact's directory: the checks' settings and every refusal (the run summary reads it).
REFUSALS_FILE = "refusals.json"
THRESHOLDS_RULE = "thresholds"  # TFMA's own thresholds (evaluation/config.py)


def _take(exec_properties: dict[str, Any], names) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the stock properties, the given settings among `names`)."""
    given = {name: exec_properties[name] for name in names if exec_properties.get(name) is not None}
    return {k: v for k, v in exec_properties.items() if k not in names}, given


def apply_model_settings(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The properties with the given model settings written into custom_config's model settings
    (alpha TUNED_ALPHA -> the loss's tuned value); validated as a ModelConfig, so a bad value
    fails here with the setting's name."""
    stock, given = _take(exec_properties, MODEL_SETTINGS)
    if not given:
        return stock
    if "loss" in given and "alpha" not in given:
        raise ValueError("run settings: loss was set without alpha; set alpha too "
                         f"({TUNED_ALPHA:g} = the loss's tuned value)")
    if given.get("alpha") == TUNED_ALPHA:
        given["alpha"] = None
    custom_config = json.loads(stock.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}")
    settings = {**custom_config.get(MODEL_CONFIG_KEY, {}), **given}
    checked = ModelConfig.from_dict(settings)  # raises naming the setting at fault
    custom_config[MODEL_CONFIG_KEY] = {**settings, **{name: getattr(checked, name) for name in given}}
    return {**stock, standard_component_specs.CUSTOM_CONFIG_KEY: json.dumps(custom_config)}


def apply_blessing_settings(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The properties with the given blessing thresholds written into eval_config."""
    stock, given = _take(exec_properties, BLESSING_SETTINGS)
    if not given:
        return stock
    if set(given) != set(BLESSING_SETTINGS):
        raise ValueError(f"run settings: blessing thresholds are set together; got {sorted(given)}, "
                         f"expected {sorted(BLESSING_SETTINGS)}")
    key = standard_component_specs.EVAL_CONFIG_KEY
    eval_config = proto_utils.json_to_proto(stock[key], tfma.EvalConfig())
    set_blessing_thresholds(eval_config, **given)
    return {**stock, key: proto_utils.proto_to_json(eval_config)}


class TransformExecutor(transform_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        return super().Do(input_dict, output_dict, apply_model_settings(exec_properties))


class TrainerExecutor(trainer_executor.GenericExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        return super().Do(input_dict, output_dict, apply_model_settings(exec_properties))


def _single_uri(input_dict: dict[str, list], key: str) -> Optional[str]:
    artifacts = input_dict.get(key) or []
    return artifacts[0].uri if artifacts else None


def _threshold_failures(blessing) -> str:
    """What TFMA's validation result says failed, in one line."""
    text = blessing.get_string_custom_property(evaluator_constants.ARTIFACT_PROPERTY_VALIDATION_RESULT_KEY)
    try:
        result = json.loads(text) if text else {}
    except ValueError:
        result = {}
    failures = [f.get("message", "") for per_slice in result.get("metricValidationsPerSlice", [])
                for f in per_slice.get("failures", [])]
    return "; ".join(failures) or "see the Evaluator's validation result"


def apply_model_checks(checks: ModelChecks, input_dict: dict[str, list], output_dict: dict[str, list]) -> list[Refusal]:
    """Runs the checks on what the stock executor wrote; a refused model's blessing is turned into
    NOT_BLESSED (file and property) before the artifact is published. Every refusal, TFMA's
    thresholds included, is written to REFUSALS_FILE."""
    blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
    evaluation = artifact_utils.get_single_instance(output_dict[standard_component_specs.EVALUATION_KEY])
    model_dir = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY]).uri
    reference = _single_uri(input_dict, REFERENCE_EVALUATION_KEY)
    calibration = (trained_model_config(model_dir).get(TRAINING_KEY) or {}).get("calibration")
    refusals = check_model(checks, slice_metrics(evaluation.uri).get(OVERALL, {}),
                           baseline=slice_metrics(reference).get(OVERALL) if reference else None,
                           history=training_history(_single_uri(input_dict, MODEL_RUN_KEY)),
                           calibration=calibration)
    blessed_key = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
    if blessing.get_int_custom_property(blessed_key) != evaluator_constants.BLESSED_VALUE:
        refusals.insert(0, Refusal(THRESHOLDS_RULE, _threshold_failures(blessing)))
    elif refusals:
        fileio.remove(os.path.join(blessing.uri, evaluator_constants.BLESSED_FILE_NAME))
        with fileio.open(os.path.join(blessing.uri, evaluator_constants.NOT_BLESSED_FILE_NAME), "w") as f:
            f.write("")
        blessing.set_int_custom_property(blessed_key, evaluator_constants.NOT_BLESSED_VALUE)
        logging.warning("Model refused by the checks: %s", "; ".join(r.message for r in refusals))
    with fileio.open(os.path.join(blessing.uri, REFUSALS_FILE), "w") as f:
        json.dump({"checks": dataclasses.asdict(checks), "refusals": [dataclasses.asdict(r) for r in refusals]}, f,
                  indent=1)
    return refusals


def read_refusals(blessing_dir: str) -> list[Refusal]:
    """The refusals an Evaluator recorded (empty for a blessed model, or one evaluated without checks)."""
    path = os.path.join(blessing_dir, REFUSALS_FILE)
    if not fileio.exists(path):
        return []
    with fileio.open(path) as f:
        return [Refusal(**r) for r in json.load(f)["refusals"]]


class EvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        exec_properties = dict(exec_properties)
        checks = exec_properties.pop(MODEL_CHECKS_KEY, None)
        stock_inputs = {k: v for k, v in input_dict.items() if k not in (REFERENCE_EVALUATION_KEY, MODEL_RUN_KEY)}
        super().Do(stock_inputs, output_dict, apply_blessing_settings(exec_properties))
        if checks:
            apply_model_checks(ModelChecks(**json.loads(checks)), input_dict, output_dict)
