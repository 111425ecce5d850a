"""Submitting a compiled pipeline (`sparsectr compile-kfp`'s PipelineJob JSON) for a run: to a
Kubeflow Pipelines endpoint with kfp.Client, or to Vertex AI Pipelines with google-cloud-aiplatform
(both come with tfx[kfp]). Run parameters are checked against the pipeline's own before anything
is sent (pipeline.kubeflow.pipeline_parameters)."""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from typing import Any, Optional

from pipeline.kubeflow import pipeline_parameters


@dataclasses.dataclass
class Submission:
    run_id: str
    url: str
    pipeline_id: str = ""
    version_id: str = ""
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)


def _load(job_path: str) -> dict[str, Any]:
    with open(job_path) as f:
        job = json.load(f)
    if "pipelineSpec" not in job:
        raise ValueError(f"{job_path}: not a compiled pipeline (no pipelineSpec); write one with `sparsectr compile-kfp`")
    return job


def submit_kfp(job_path: str, host: str, overrides: list[str], namespace: Optional[str] = None,
               experiment: str = "sparsectr", run_name: Optional[str] = None,
               pipeline_root: Optional[str] = None) -> Submission:
    """Uploads the pipeline (a new pipeline, or a new version of the one with its name), creates
    a run of that version in `experiment` with the parameters, and returns the run's URL.
    `pipeline_root`: where the run's artifacts go (default: the cluster's)."""
    import kfp

    job = _load(job_path)
    parameters = pipeline_parameters(job, overrides)
    spec = job["pipelineSpec"]
    name = spec["pipelineInfo"]["name"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    client = kfp.Client(host=host, namespace=namespace)
    with tempfile.TemporaryDirectory(prefix="sparsectr-kfp-") as tmp:
        package = os.path.join(tmp, f"{name}.json")  # KFP takes the PipelineSpec itself
        with open(package, "w") as f:
            json.dump(spec, f)
        pipeline_id = client.get_pipeline_id(name)
        if pipeline_id is None:  # a new pipeline, whose first version is this package
            pipeline_id = client.upload_pipeline(package, pipeline_name=name, namespace=namespace).pipeline_id
            versions = client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc")
            version_id = versions.pipeline_versions[0].pipeline_version_id
        else:
            version_id = client.upload_pipeline_version(package, f"{name}-{stamp}",
                                                        pipeline_id=pipeline_id).pipeline_version_id
    experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
    run = client.run_pipeline(experiment_id, run_name or f"{name}-{stamp}", params=parameters,
                              pipeline_id=pipeline_id, version_id=version_id, pipeline_root=pipeline_root)
    return Submission(run.run_id, f"{host.rstrip('/')}/#/runs/details/{run.run_id}", pipeline_id, version_id,
                      parameters)


def vertex_job(job_path: str, project: str, region: str, overrides: list[str],
               pipeline_root: Optional[str] = None, credentials=None):
    """An aiplatform.PipelineJob of the compiled pipeline with the parameters (not yet submitted)."""
    from google.cloud import aiplatform

    job = _load(job_path)
    parameters = pipeline_parameters(job, overrides)
    return aiplatform.PipelineJob(
        display_name=job["pipelineSpec"]["pipelineInfo"]["name"], template_path=job_path,
        pipeline_root=pipeline_root or job.get("runtimeConfig", {}).get("gcsOutputDirectory"),
        parameter_values=parameters, project=project, location=region, credentials=credentials,
        enable_caching=True)


def submit_vertex(job_path: str, project: str, region: str, overrides: list[str],
                  pipeline_root: Optional[str] = None) -> Submission:
    parameters = pipeline_parameters(_load(job_path), overrides)
    job = vertex_job(job_path, project, region, overrides, pipeline_root)
    job.submit()
    url = f"https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/{job.name}?project={project}"
    return Submission(job.resource_name, url, parameters=parameters)
