"""Spec of ServingPusher: TFX Pusher's inputs plus the Evaluator's evaluation; the destination is
one directory (a run parameter on Kubeflow), since TF Serving watches a directory."""
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

EVALUATION_KEY = standard_component_specs.EVALUATION_KEY
MIN_SLICE_SIZE_KEY = "min_slice_size"  # in custom_config (JSON)
SERVING_DIR_KEY = "serving_dir"


class ServingPusherSpec(standard_component_specs.PusherSpec):
    PARAMETERS = {
        standard_component_specs.CUSTOM_CONFIG_KEY: ExecutionParameter(type=str),
        SERVING_DIR_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        **standard_component_specs.PusherSpec.INPUTS,
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
    }
