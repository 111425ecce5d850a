"""CriteoExampleGen: a file-based ExampleGen for raw Criteo click logs."""
from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.components.example_gen import driver, utils
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts

from components.criteo_example_gen import executor, spec
from models.criteo_rows import FORMATS


class CriteoExampleGen(FileBasedExampleGen):
    """Ingests raw Criteo logs (TSV, headed CSV, gzip; `{SPAN}` patterns) into
    tf.Examples split by a hash of the row, and writes unreadable lines to
    `rejects`; fails when their fraction exceeds `max_reject_fraction`.

    Outputs: `examples` (Examples), `rejects` (CriteoRejects).

    A FileBasedExampleGen to the orchestrators, so that each runs TFX's span driver before it
    (the Kubeflow V2 compiler adds it as the task's pre-cache-check step), with its own spec
    (input format, reject limit, rejects output); hence BaseBeamComponent's constructor.
    """

    SPEC_CLASS = spec.CriteoExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.FileBasedDriver

    def __init__(
        self,
        input_base: str,
        input_config: Optional[example_gen_pb2.Input] = None,
        output_config: Optional[example_gen_pb2.Output] = None,
        range_config: Optional[range_config_pb2.RangeConfig] = None,
        input_format: str = "auto",
        max_reject_fraction: float = spec.DEFAULT_MAX_REJECT_FRACTION,
    ):
        if input_format not in FORMATS:
            raise ValueError(f"input_format must be one of {FORMATS}, got {input_format!r}")
        if not 0.0 <= max_reject_fraction <= 1.0:
            raise ValueError(f"max_reject_fraction must be in [0, 1], got {max_reject_fraction}")
        input_config = input_config or utils.make_default_input_config()
        output_config = output_config or utils.make_default_output_config(input_config)
        base_beam_component.BaseBeamComponent.__init__(
            self,
            spec.CriteoExampleGenSpec(
                input_base=input_base,
                input_config=input_config,
                output_config=output_config,
                range_config=range_config,
                output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
                output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
                input_format=input_format,
                max_reject_fraction=float(max_reject_fraction),
                examples=types.Channel(type=standard_artifacts.Examples),
                rejects=types.Channel(type=spec.CriteoRejects),
            )
        )
