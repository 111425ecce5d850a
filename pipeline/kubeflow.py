"""Compiling the pipeline for Kubeflow Pipelines (KFP v2 IR) with TFX's
KubeflowV2DagRunner. The components run in a container image that holds this
project (`pip install .`); metadata is the cluster's, not SQLite."""
from __future__ import annotations

import dataclasses

from tfx import v1 as tfx

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline

# On a cluster, Beam runs inside each component's pod; a remote runner
# (Dataflow, Flink) is chosen by replacing these args.
KUBEFLOW_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")
# Where kubeflow/Dockerfile puts the project inside the image.
CONTAINER_PROJECT_ROOT = "/app"


def compile_kubeflow(config: PipelineConfig, out: str, image: str) -> str:
    config = dataclasses.replace(config, beam_pipeline_args=KUBEFLOW_BEAM_ARGS,
                                 schema_dir=f"{CONTAINER_PROJECT_ROOT}/schemas")
    pipeline = create_pipeline(config, local_metadata=False)  # Kubeflow provides MLMD
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_filename=out,
    )
    runner.run(pipeline, write_out=True)
    return out
