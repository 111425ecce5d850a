"""The TFX DAG, built from one PipelineConfig."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components.criteo_example_gen.component import CriteoExampleGen
from components.run_settings.component import Evaluator, Trainer, Transform
from components.run_settings.spec import BLESSING_SETTINGS, MODEL_SETTINGS
from components.serving_pusher.component import ServingPusher
from components.validation_gate.component import ValidationGate
from evaluation.config import eval_config
from models.baseline import BASELINE_FIELDS
from models.hparams import TRANSFORM_FIELDS
from models.preprocessing import FORCE_TF_COMPAT_V1
from models.trainer import HOLDOUT_KEY
from pipeline.config import SPLIT_NAMES, PipelineConfig, input_location

BASELINE_TRAINER = "BaselineTrainer"
BASELINE_EVALUATOR = "BaselineEvaluator"
DATA_ROOT = "data_root"
SERVING_DIR = "serving_dir"
# `run_parameters` below: a mapping from setting name (DATA_ROOT, SERVING_DIR, MODEL_SETTINGS,
# BLESSING_SETTINGS) to the value a run gives it, usually a tfx RuntimeParameter (Kubeflow:
# pipeline/kubeflow.py); empty for the local runners, which bake every setting into the DAG.
RunParameters = Mapping[str, Any]


def _model_settings(run_parameters: RunParameters, fields: Optional[tuple[str, ...]]) -> dict[str, Any]:
    """The run's model settings a component reads (`fields`; None = all)."""
    return {name: value for name, value in run_parameters.items()
            if name in MODEL_SETTINGS and (fields is None or name in fields)}


def data_components(config: PipelineConfig, run_parameters: Optional[RunParameters] = None) -> list:
    """Ingestion and validation: CriteoExampleGen, StatisticsGen,
    ImportSchemaGen, ExampleValidator and the gate that stops on anomalies."""
    presplit = config.presplit_names()
    if presplit:  # data/train/*, data/eval/*[, data/test/*]: keep the user's splits
        input_base = config.data
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=name, pattern=f"{name}/*") for name in presplit])
        output_config = example_gen_pb2.Output()
    else:
        input_base, pattern = input_location(config.data)
        input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern=pattern)])
        output_config = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=ratio)
                    for name, ratio in zip(SPLIT_NAMES, config.split_ratios)
                ]
            )
        )
    example_gen = CriteoExampleGen(
        input_base=(run_parameters or {}).get(DATA_ROOT, input_base),
        input_config=input_config,
        output_config=output_config,
        input_format=config.input_format,
        max_reject_fraction=config.max_reject_fraction,
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=f"{config.schema_dir}/schema.pbtxt")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = ValidationGate(anomalies=example_validator.outputs["anomalies"], statistics=statistics_gen.outputs["statistics"])
    return [example_gen, statistics_gen, schema_gen, example_validator, gate]


def _transform_and_trainer(config: PipelineConfig, data: list, run_parameters: RunParameters) -> tuple:
    """Transform (after ValidationGate) and the Trainer, on top of `data_components`."""
    example_gen, _, schema_gen, _, gate = data
    transform = Transform(
        settings=_model_settings(run_parameters, TRANSFORM_FIELDS),
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="models.preprocessing.preprocessing_fn",
        custom_config=config.model.to_custom_config(TRANSFORM_FIELDS),
        disable_statistics=True,  # StatisticsGen already describes the raw data
        # The analyzer cache only pays when a later run feeds it back (incremental
        # spans); this DAG does not, so writing it would be wasted time.
        disable_analyzer_cache=True,
        force_tf_compat_v1=FORCE_TF_COMPAT_V1,
    )
    transform.add_upstream_node(gate)
    return transform, _trainer(config, transform, "models.trainer.run_fn", run_parameters)


def _trainer(config: PipelineConfig, transform, run_fn: str, run_parameters: RunParameters,
             fields: Optional[tuple[str, ...]] = None):
    """A Trainer of `run_fn` on Transform's output. Early stopping never watches the rows TFMA
    scores: the Trainer validates on the eval split when TFMA scores test, else on rows held out
    of train (PipelineConfig.validation_holdout). `fields`: the model settings it reads (all when
    None); a change to any other leaves its cached run valid."""
    holdout = config.validation_holdout()
    return Trainer(
        settings=_model_settings(run_parameters, fields),
        run_fn=run_fn,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["train" if holdout else "eval"]),
        custom_config={**config.model.to_custom_config(fields), HOLDOUT_KEY: holdout},
    )


def _evaluator(config: PipelineConfig, example_gen, trainer, run_parameters: RunParameters, baseline=None,
               reference: bool = False, reference_evaluation=None):
    """TFMA on the evaluation split. A candidate (not `reference`) is blessed by the thresholds and
    the fail-closed checks (evaluation/model_checks.py) against `reference_evaluation`, the
    logistic-regression baseline's, and its Trainer's history."""
    return Evaluator(
        settings={} if reference else {k: v for k, v in run_parameters.items() if k in BLESSING_SETTINGS},
        checks=None if reference else config.model_checks,
        reference_evaluation=reference_evaluation,
        model_run=None if reference else trainer.outputs["model_run"],
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"] if baseline else None,
        example_splits=[config.evaluation_split()],
        eval_config=eval_config(config.model.slice_features, None if reference else config.blessing_thresholds),
    )


def _logistic_regression(config: PipelineConfig, example_gen, transform, run_parameters: RunParameters) -> list:
    """The logistic-regression baseline (models/baseline.py), trained on the DCN-V2's rows and
    scored on its split, so every run says whether the DCN-V2 beats it."""
    baseline_trainer = _trainer(config, transform, "models.baseline.run_fn", run_parameters,
                                BASELINE_FIELDS).with_id(BASELINE_TRAINER)
    evaluator = _evaluator(config, example_gen, baseline_trainer, run_parameters,
                           reference=True).with_id(BASELINE_EVALUATOR)
    return [baseline_trainer, evaluator]


def training_components(config: PipelineConfig, data: list,
                        run_parameters: Optional[RunParameters] = None) -> list:
    """Transform, Trainer, the latest blessed model, Evaluator and ServingPusher,
    on top of `data_components`. Transform waits for ValidationGate."""
    run_parameters = run_parameters or {}
    transform, trainer = _transform_and_trainer(config, data, run_parameters)
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    reference = _logistic_regression(config, data[0], transform, run_parameters)
    evaluator = _evaluator(config, data[0], trainer, run_parameters, baseline,
                           reference_evaluation=reference[-1].outputs["evaluation"])
    pusher = ServingPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        evaluation=evaluator.outputs["evaluation"],
        serving_dir=run_parameters.get(SERVING_DIR, config.serving_dir),
        min_slice_size=config.min_slice_size,
    )
    return [transform, trainer, baseline, evaluator, pusher] + reference


def _pipeline(config: PipelineConfig, name: str, components: list, local_metadata: bool) -> tfx.dsl.Pipeline:
    metadata = (tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
                if local_metadata else None)
    return tfx.dsl.Pipeline(
        pipeline_name=name,
        pipeline_root=config.pipeline_root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )


def create_pipeline(config: PipelineConfig, local_metadata: bool = True,
                    run_parameters: Optional[RunParameters] = None) -> tfx.dsl.Pipeline:
    """The whole pipeline: ingest, validate, transform, train, evaluate, push.
    `local_metadata`: SQLite MLMD under output_dir (off for Kubeflow, which has its own)."""
    data = data_components(config, run_parameters)
    return _pipeline(config, config.pipeline_name, data + training_components(config, data, run_parameters),
                     local_metadata)


def create_experiment_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """One cell of `sparsectr experiment`: the data components, Transform,
    Trainer and Evaluator, without a baseline or a Pusher (a cell is measured,
    not deployed). Cells of one dataset share `config.pipeline_name` and output
    directory, so the TFX cache runs the data components and Transform once."""
    data = data_components(config)
    transform, trainer = _transform_and_trainer(config, data, {})
    return _pipeline(config, config.pipeline_name, data + [transform, trainer, _evaluator(config, data[0], trainer, {})],
                     local_metadata=True)


def create_data_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """The ingestion and validation part alone (what `sparsectr check-data` runs)."""
    return _pipeline(config, f"{config.pipeline_name}-check-data", data_components(config), local_metadata=True)
