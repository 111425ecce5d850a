"""ServingPusher: TFX's Pusher that also writes the evaluation beside the pushed model."""
import json
from typing import Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration.data_types import RuntimeParameter

from components.serving_pusher import executor, spec
from components.serving_pusher.spec import MIN_SLICE_SIZE_KEY, SERVING_DIR_KEY


class ServingPusher(base_component.BaseComponent):
    """Pushes a blessed model to `<serving_dir>/<version>/` like tfx.components.Pusher, with
    `assets.extra/evaluation.json` (the Evaluator's metrics per slice; slices under
    `min_slice_size` examples keep their count only) inside the version."""

    SPEC_CLASS = spec.ServingPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel, evaluation: types.BaseChannel,
                 serving_dir: Union[str, RuntimeParameter], min_slice_size: int = 1):
        super().__init__(spec.ServingPusherSpec(model=model, model_blessing=model_blessing, evaluation=evaluation,
                                                **{SERVING_DIR_KEY: serving_dir},
                                                custom_config=json.dumps({MIN_SLICE_SIZE_KEY: min_slice_size}),
                                                pushed_model=types.Channel(type=spec.standard_artifacts.PushedModel)))
