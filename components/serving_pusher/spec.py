"""Spec of ServingPusher: TFX Pusher's inputs plus the Evaluator's evaluation."""
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter

EVALUATION_KEY = standard_component_specs.EVALUATION_KEY
MIN_SLICE_SIZE_KEY = "min_slice_size"  # in custom_config (JSON)


class ServingPusherSpec(standard_component_specs.PusherSpec):
    INPUTS = {
        **standard_component_specs.PusherSpec.INPUTS,
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
    }
