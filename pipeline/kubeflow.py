"""Compiling the pipeline for Kubeflow Pipelines (KFP v2 IR, pipeline spec 2.1) with TFX's
KubeflowV2DagRunner. The components run in a container image that holds this project
(kubeflow/Dockerfile); metadata is the cluster's, not SQLite.

The compiled pipeline has run parameters (RUN_PARAMETERS), so one JSON serves many runs: the
data and serving locations, the loss and its settings, and the blessing thresholds. Their
defaults are the compile-time configuration. The output location is KFP's pipeline root, set
per run by the client (`sparsectr submit-kfp --pipeline-root`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any, Optional

from tfx import v1 as tfx
from tfx.orchestration.data_types import RuntimeParameter

from components.run_settings.spec import BLESSING_SETTINGS, MODEL_SETTINGS, TUNED_ALPHA
from pipeline.config import PipelineConfig, input_location
from pipeline.pipeline import DATA_ROOT, SERVING_DIR, create_pipeline

# On a cluster, Beam runs inside each component's pod by default; a remote runner (Dataflow,
# Flink, Spark) is chosen by compiling with other args (`compile-kfp --beam-args`, docs/SCALING.md).
KUBEFLOW_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")
# Where kubeflow/Dockerfile puts the schema inside the image.
CONTAINER_SCHEMA_DIR = "/app/schemas"
# The pipeline parameters and their types (KFP: STRING, NUMBER_DOUBLE, NUMBER_INTEGER).
RUN_PARAMETERS: dict[str, type] = {DATA_ROOT: str, SERVING_DIR: str, **MODEL_SETTINGS, **BLESSING_SETTINGS}
_KFP_TYPES = {str: "STRING", float: "NUMBER_DOUBLE", int: "NUMBER_INTEGER"}


def parameter_defaults(config: PipelineConfig) -> dict[str, Any]:
    """Each run parameter's default: the value `config` gives it (alpha: TUNED_ALPHA when unset)."""
    presplit = config.presplit_names()
    model = config.model
    values = {
        DATA_ROOT: config.data if presplit else input_location(config.data)[0],
        SERVING_DIR: config.serving_dir,
        "alpha": TUNED_ALPHA if model.alpha is None else model.alpha,
        **{name: getattr(model, name) for name in MODEL_SETTINGS if name != "alpha"},
        **{name: getattr(config, name) for name in BLESSING_SETTINGS},
    }
    return {name: kind(values[name]) for name, kind in RUN_PARAMETERS.items()}


def _with_defaults(job: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """TFX writes only the parameters' types; KFP and Vertex take a default from inputDefinitions
    (as the KFP SDK writes it), which makes the parameter optional at submission."""
    parameters = job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    if set(parameters) != set(defaults):
        raise RuntimeError(f"compiled parameters {sorted(parameters)} differ from RUN_PARAMETERS {sorted(defaults)}")
    for name, spec in parameters.items():
        if spec.get("parameterType") != _KFP_TYPES[RUN_PARAMETERS[name]]:
            raise RuntimeError(f"parameter {name}: compiled as {spec.get('parameterType')}, "
                               f"expected {_KFP_TYPES[RUN_PARAMETERS[name]]}")
        spec.update(defaultValue=defaults[name], isOptional=True)
    return job


def pipeline_parameters(job: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """The run parameters of a compiled pipeline (PipelineJob JSON): its defaults with `overrides`
    ("name=value", typed by the parameter's declared type) applied."""
    declared = job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {name: spec["defaultValue"] for name, spec in declared.items() if "defaultValue" in spec}
    casts = {"STRING": (str, "text"), "NUMBER_DOUBLE": (float, "number"), "NUMBER_INTEGER": (int, "whole number")}
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--param {item!r}: expected name=value")
        if name not in declared:
            raise ValueError(f"--param {name}: the pipeline has no such parameter; it has {', '.join(sorted(declared))}")
        kind = declared[name].get("parameterType", "STRING")
        cast, meaning = casts[kind]
        try:
            values[name] = cast(text)
        except ValueError:
            raise ValueError(f"--param {name}={text!r}: expected a {meaning} ({kind})") from None
    missing = sorted(set(declared) - set(values))
    if missing:
        raise ValueError(f"parameters without a default need a value: {', '.join(f'--param {m}=...' for m in missing)}")
    return values


def compile_kubeflow(config: PipelineConfig, out: str, image: str,
                     beam_args: Optional[tuple[str, ...]] = None) -> str:
    """Writes the PipelineJob JSON (pipelineSpec + runtimeConfig) to `out`. `beam_args`: the Beam
    flags of every Beam-based component (default KUBEFLOW_BEAM_ARGS: DirectRunner in the pod)."""
    config = dataclasses.replace(config, beam_pipeline_args=KUBEFLOW_BEAM_ARGS if beam_args is None else beam_args,
                                 schema_dir=CONTAINER_SCHEMA_DIR)
    defaults = parameter_defaults(config)
    run_parameters = {name: RuntimeParameter(name=name, ptype=RUN_PARAMETERS[name], default=value)
                      for name, value in defaults.items()}
    pipeline = create_pipeline(config, local_metadata=False, run_parameters=run_parameters)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image,
                                                                        use_pipeline_spec_2_1=True),
        output_filename=os.path.basename(out),
    )
    job = _with_defaults(runner.run(pipeline, write_out=False), defaults)
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False) as f:
        json.dump(job, f, indent=2, sort_keys=True)
    os.replace(f.name, out)
    return out
