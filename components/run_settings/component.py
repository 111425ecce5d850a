"""Transform, Trainer and Evaluator that take a run's settings as execution properties (spec.py).

Each is the stock component, built by the stock constructor, with its spec re-made as the
extended spec holding the given settings; values may be tfx RuntimeParameters (Kubeflow).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.run_settings import executor, spec
from evaluation.thresholds import ModelChecks


def _with_settings(component, spec_class: type, settings: Optional[Mapping[str, Any]],
                   allowed: Mapping[str, type], extra: Optional[Mapping[str, Any]] = None) -> None:
    settings = settings or {}
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"{type(component).__name__}: unknown run settings {unknown}; known: {sorted(allowed)}")
    stock = component.spec
    component.spec = spec_class(**stock.exec_properties, **stock.inputs, **stock.outputs,
                                **{name: value for name, value in settings.items() if value is not None},
                                **{name: value for name, value in (extra or {}).items() if value is not None})


class Transform(tfx.components.Transform):
    """tfx Transform; `settings`: model settings (spec.MODEL_SETTINGS) written into custom_config."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.TransformExecutor)

    def __init__(self, settings: Optional[Mapping[str, Any]] = None, **kwargs):
        super().__init__(**kwargs)
        _with_settings(self, spec.TransformSpec, settings, spec.MODEL_SETTINGS)


class Trainer(tfx.components.Trainer):
    """tfx Trainer; `settings`: model settings (spec.MODEL_SETTINGS) written into custom_config."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.TrainerExecutor)

    def __init__(self, settings: Optional[Mapping[str, Any]] = None, **kwargs):
        super().__init__(**kwargs)
        _with_settings(self, spec.TrainerSpec, settings, spec.MODEL_SETTINGS)


class Evaluator(tfx.components.Evaluator):
    """tfx Evaluator; `settings`: blessing thresholds (spec.BLESSING_SETTINGS) written into eval_config.
    With `checks`, a model the thresholds bless is refused when a check fails (evaluation/model_checks.py)
    against `reference_evaluation` (the logistic-regression baseline's) and the Trainer's `model_run`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.EvaluatorExecutor)

    def __init__(self, settings: Optional[Mapping[str, Any]] = None, checks: Optional[ModelChecks] = None,
                 reference_evaluation=None, model_run=None, **kwargs):
        super().__init__(**kwargs)
        _with_settings(self, spec.EvaluatorSpec, settings, spec.BLESSING_SETTINGS, extra={
            spec.MODEL_CHECKS_KEY: json.dumps(dataclasses.asdict(checks)) if checks else None,
            spec.REFERENCE_EVALUATION_KEY: reference_evaluation, spec.MODEL_RUN_KEY: model_run})
