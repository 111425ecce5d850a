"""The TFX DAG, built from one PipelineConfig."""
from __future__ import annotations

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components.criteo_example_gen.component import CriteoExampleGen
from components.validation_gate.component import ValidationGate
from pipeline.config import SPLIT_NAMES, PipelineConfig, input_location


def data_components(config: PipelineConfig) -> list:
    """Ingestion and validation: CriteoExampleGen, StatisticsGen,
    ImportSchemaGen, ExampleValidator and the gate that stops on anomalies."""
    input_base, pattern = input_location(config.data)
    example_gen = CriteoExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern=pattern)]),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=ratio)
                    for name, ratio in zip(SPLIT_NAMES, config.split_ratios)
                ]
            )
        ),
        input_format=config.input_format,
        max_reject_fraction=config.max_reject_fraction,
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=f"{config.schema_dir}/schema.pbtxt")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = ValidationGate(anomalies=example_validator.outputs["anomalies"])
    return [example_gen, statistics_gen, schema_gen, example_validator, gate]


def create_data_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """The ingestion and validation part alone (what `sparsectr check-data` runs)."""
    return tfx.dsl.Pipeline(
        pipeline_name=f"{config.pipeline_name}-check-data",
        pipeline_root=config.pipeline_root,
        components=data_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
        beam_pipeline_args=list(config.beam_pipeline_args),
    )
