"""Spec of ValidationGate: consumes StatisticsGen's statistics (rows per split) and ExampleValidator's
anomalies, outputs nothing."""
from tfx import types
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter

ANOMALIES_KEY = standard_component_specs.ANOMALIES_KEY
STATISTICS_KEY = standard_component_specs.STATISTICS_KEY


class ValidationGateSpec(types.ComponentSpec):
    PARAMETERS = {}
    INPUTS = {ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
              STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True)}
    OUTPUTS = {}
