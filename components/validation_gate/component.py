"""ValidationGate: stops the pipeline before Transform when a split is empty or the data has anomalies."""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from components.validation_gate import executor, spec


class ValidationGate(base_component.BaseComponent):
    SPEC_CLASS = spec.ValidationGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, statistics: types.BaseChannel = None):
        super().__init__(spec.ValidationGateSpec(anomalies=anomalies, statistics=statistics))
