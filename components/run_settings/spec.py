"""Specs of the stock Transform, Trainer and Evaluator with settings a run may change.

TFX's Kubeflow V2 compiler wires a pipeline parameter only to a whole execution property
(tfx/orchestration/kubeflow/v2/step_builder.py), while the model settings travel inside
`custom_config` (JSON) and the blessing thresholds inside `eval_config` (a proto). These
specs add one optional execution property per setting; the executors (executor.py) fold the
given ones into custom_config / eval_config before the stock executor runs. Unset, they
change nothing, so the local runners keep the stock behaviour and cache.
"""
from __future__ import annotations

import typing

from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from evaluation.thresholds import BlessingThresholds

# Model settings (models/hparams.py ModelConfig fields) a run may set, with their types.
MODEL_SETTINGS: dict[str, type] = {"loss": str, "alpha": float, "beta": float, "epochs": int, "seed": int}
# A run parameter cannot be "unset" on Kubeflow, so alpha takes this value to mean
# "the loss's tuned value at the run's beta" (ModelConfig.alpha = None).
TUNED_ALPHA = -1.0
# Blessing thresholds a run may set: every one (evaluation/thresholds.py), with its type.
BLESSING_SETTINGS: dict[str, type] = typing.get_type_hints(BlessingThresholds)


def _optional(settings: dict[str, type]) -> dict[str, ExecutionParameter]:
    return {name: ExecutionParameter(type=kind, optional=True) for name, kind in settings.items()}


class TransformSpec(standard_component_specs.TransformSpec):
    PARAMETERS = {**standard_component_specs.TransformSpec.PARAMETERS, **_optional(MODEL_SETTINGS)}


class TrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {**standard_component_specs.TrainerSpec.PARAMETERS, **_optional(MODEL_SETTINGS)}


# The Evaluator's fail-closed checks (evaluation/model_checks.py): their settings (ModelChecks, as
# JSON) and what they read besides the evaluation: the logistic-regression baseline's evaluation
# and the Trainer's run directory (its history). The Trainer's model (its calibration) is an
# input already.
MODEL_CHECKS_KEY = "model_checks"
REFERENCE_EVALUATION_KEY = "reference_evaluation"
MODEL_RUN_KEY = standard_component_specs.MODEL_RUN_KEY


class EvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = {**standard_component_specs.EvaluatorSpec.PARAMETERS, **_optional(BLESSING_SETTINGS),
                  MODEL_CHECKS_KEY: ExecutionParameter(type=str, optional=True)}
    INPUTS = {**standard_component_specs.EvaluatorSpec.INPUTS,
              REFERENCE_EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation, optional=True),
              MODEL_RUN_KEY: ChannelParameter(type=standard_artifacts.ModelRun, optional=True)}
