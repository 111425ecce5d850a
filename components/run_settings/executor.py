"""Executors of Transform, Trainer and Evaluator that apply a run's settings (spec.py), then
run the stock executor unchanged."""
from __future__ import annotations

import json
from typing import Any

import tensorflow_model_analysis as tfma
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.trainer import executor as trainer_executor
from tfx.components.transform import executor as transform_executor
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.run_settings.spec import BLESSING_SETTINGS, MODEL_SETTINGS, TUNED_ALPHA
from evaluation.config import set_blessing_thresholds
from models.hparams import MODEL_CONFIG_KEY, ModelConfig


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


class EvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        return super().Do(input_dict, output_dict, apply_blessing_settings(exec_properties))
