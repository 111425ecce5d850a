"""ServingPusher: TFX's Pusher that also writes the evaluation beside the pushed model."""
import json
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import pusher_pb2

from components.serving_pusher import executor, spec
from components.serving_pusher.spec import MIN_SLICE_SIZE_KEY


class ServingPusher(base_component.BaseComponent):
    """Pushes a blessed model to `<base_directory>/<version>/` like tfx.components.Pusher, with
    `assets.extra/evaluation.json` (the Evaluator's metrics per slice; slices under
    `min_slice_size` examples keep their count only) inside the version."""

    SPEC_CLASS = spec.ServingPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel, evaluation: types.BaseChannel,
                 push_destination: Optional[pusher_pb2.PushDestination] = None, min_slice_size: int = 1):
        super().__init__(spec.ServingPusherSpec(model=model, model_blessing=model_blessing, evaluation=evaluation,
                                                push_destination=push_destination,
                                                custom_config=json.dumps({MIN_SLICE_SIZE_KEY: min_slice_size}),
                                                pushed_model=types.Channel(type=spec.standard_artifacts.PushedModel)))
