"""`sparsectr compile-kfp` writes a KFP v2 spec that kfp's own protos accept,
with every component of the local pipeline as a task running the project image."""
from __future__ import annotations

import json

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.config import PipelineConfig
from sparsectr.cli import main

TASKS = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
         "Transform", "Trainer", "Evaluator", "ServingPusher", "BaselineTrainer", "BaselineEvaluator"}


def test_compile_kfp_writes_a_spec_that_parses_with_kfp_protos(tmp_path):
    out = tmp_path / "pipeline.json"
    assert main(["compile-kfp", "--out", str(out), "--image", "registry.example/sparsectr:1",
                 "--loss", "bce", "--batch-size", "512"]) == 0

    document = json.loads(out.read_text())
    job = json_format.ParseDict(document, pipeline_spec_pb2.PipelineJob())  # raises on unknown fields
    spec = json_format.ParseDict(document["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert spec.pipeline_info.name == PipelineConfig(data="", output_dir="").pipeline_name
    assert job.pipeline_spec["root"]["dag"]["tasks"].keys() == set(spec.root.dag.tasks)

    tasks = spec.root.dag.tasks
    assert TASKS <= set(tasks), TASKS - set(tasks)
    assert "Transform" in tasks["Trainer"].dependent_tasks and "Trainer" in tasks["Evaluator"].dependent_tasks
    assert "Transform" in tasks["BaselineTrainer"].dependent_tasks
    assert "BaselineTrainer" in tasks["BaselineEvaluator"].dependent_tasks
    images = {executor["container"]["image"] for executor in document["pipelineSpec"]["deploymentSpec"]["executors"].values()
              if "container" in executor}
    assert images == {"registry.example/sparsectr:1"}
    # The model flags reach the Trainer's custom config; the schema is read from the image.
    trainer = document["pipelineSpec"]["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    model = json.loads(trainer["custom_config"]["runtimeValue"]["constantValue"]["stringValue"])["model"]
    assert model["batch_size"] == 512 and model["loss"] == "bce"
    assert "/app/schemas" in out.read_text()
