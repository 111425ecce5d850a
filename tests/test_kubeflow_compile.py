"""`sparsectr compile-kfp` writes a KFP v2 spec that kfp's own protos accept, with every component
of the local pipeline as a task running the project image, and run parameters with defaults wired
to the components that read them."""
from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.run_settings.spec import TUNED_ALPHA
from pipeline.config import PipelineConfig
from pipeline.kubeflow import pipeline_parameters
from sparsectr.cli import main

TASKS = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
         "Transform", "Trainer", "Evaluator", "ServingPusher", "BaselineTrainer", "BaselineEvaluator"}
# Which task inputs each run parameter feeds (task -> its input name).
WIRING = {
    "data_root": {("CriteoExampleGen", "input_base")},
    "serving_dir": {("ServingPusher", "serving_dir")},
    "loss": {("Trainer", "loss")},
    "alpha": {("Trainer", "alpha")},
    "beta": {("Transform", "beta"), ("Trainer", "beta"), ("BaselineTrainer", "beta")},
    "epochs": {("Trainer", "epochs")},
    "seed": {("Trainer", "seed"), ("BaselineTrainer", "seed")},
    "min_auc": {("Evaluator", "min_auc")},
    "auc_tolerance": {("Evaluator", "auc_tolerance")},
    "logloss_tolerance": {("Evaluator", "logloss_tolerance")},
}
TYPES = {"data_root": "STRING", "serving_dir": "STRING", "loss": "STRING", "alpha": "NUMBER_DOUBLE",
         "beta": "NUMBER_DOUBLE", "epochs": "NUMBER_INTEGER", "seed": "NUMBER_INTEGER", "min_auc": "NUMBER_DOUBLE",
         "auc_tolerance": "NUMBER_DOUBLE", "logloss_tolerance": "NUMBER_DOUBLE"}


def _compile(tmp_path, *flags: str) -> dict:
    out = tmp_path / "pipeline.json"
    assert main(["compile-kfp", "--out", str(out), "--image", "registry.example/sparsectr:1", *flags]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    return _compile(tmp_path_factory.mktemp("kfp"), "--loss", "bce", "--batch-size", "512", "--data",
                    "gs://bucket/logs/day_{SPAN}.gz", "--output", "gs://bucket/run")


def test_compile_kfp_writes_a_spec_that_parses_with_kfp_protos(compiled):
    job = json_format.ParseDict(compiled, pipeline_spec_pb2.PipelineJob())  # raises on unknown fields
    spec = json_format.ParseDict(compiled["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert spec.schema_version == "2.1.0"
    assert spec.pipeline_info.name == PipelineConfig(data="", output_dir="").pipeline_name
    assert job.pipeline_spec["root"]["dag"]["tasks"].keys() == set(spec.root.dag.tasks)
    assert job.runtime_config.gcs_output_directory == "gs://bucket/run/pipeline_root"

    tasks = spec.root.dag.tasks
    assert TASKS <= set(tasks), TASKS - set(tasks)
    assert "Transform" in tasks["Trainer"].dependent_tasks and "Trainer" in tasks["Evaluator"].dependent_tasks
    assert "Transform" in tasks["BaselineTrainer"].dependent_tasks
    assert "BaselineTrainer" in tasks["BaselineEvaluator"].dependent_tasks
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    images = {executor["container"]["image"] for executor in executors.values() if "container" in executor}
    assert images == {"registry.example/sparsectr:1"}
    # ExampleGen resolves {SPAN} with TFX's driver before it runs.
    check = executors["CriteoExampleGen_executor"]["container"]["lifecycle"]["preCacheCheck"]
    assert check["command"][-1] == "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"
    # The model flags reach the Trainer's custom config; the schema is read from the image.
    trainer = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    model = json.loads(trainer["custom_config"]["runtimeValue"]["constant"])["model"]
    assert model["batch_size"] == 512 and model["loss"] == "bce"
    assert "/app/schemas" in json.dumps(compiled)


def test_run_parameters_are_declared_with_defaults_and_wired_to_their_components(compiled):
    declared = compiled["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert {name: spec["parameterType"] for name, spec in declared.items()} == TYPES
    assert all(spec["isOptional"] for spec in declared.values())
    defaults = {name: spec["defaultValue"] for name, spec in declared.items()}
    config = PipelineConfig(data="", output_dir="")
    assert defaults == {"data_root": "gs://bucket/logs", "serving_dir": "gs://bucket/run/serving_model/sparsectr",
                        "loss": "bce", "alpha": TUNED_ALPHA, "beta": 1.0, "epochs": config.model.epochs,
                        "seed": 0, "min_auc": config.min_auc, "auc_tolerance": config.auc_tolerance,
                        "logloss_tolerance": config.logloss_tolerance}
    wired = {}
    for task_name, task in compiled["pipelineSpec"]["root"]["dag"]["tasks"].items():
        for input_name, spec in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in spec:
                wired.setdefault(spec["componentInputParameter"], set()).add((task_name, input_name))
    assert wired == WIRING
    # Each consuming component declares the parameter with the same type.
    for name, uses in WIRING.items():
        for task_name, input_name in uses:
            component = compiled["pipelineSpec"]["components"][task_name]
            assert component["inputDefinitions"]["parameters"][input_name]["parameterType"] == TYPES[name]


def test_compile_time_flags_become_the_defaults(tmp_path):
    job = _compile(tmp_path, "--loss", "combined_pair", "--alpha", "0.4", "--beta", "0.5", "--epochs", "3",
                   "--seed", "9", "--min-auc", "0.6", "--push-dir", "/srv/models", "--data", "/data/logs/*.tsv")
    defaults = pipeline_parameters(job, [])
    assert {k: defaults[k] for k in ("loss", "alpha", "beta", "epochs", "seed", "min_auc")} == {
        "loss": "combined_pair", "alpha": 0.4, "beta": 0.5, "epochs": 3, "seed": 9, "min_auc": 0.6}
    assert defaults["serving_dir"] == "/srv/models/sparsectr" and defaults["data_root"] == "/data/logs"


def test_run_parameter_overrides_are_typed_and_checked(compiled):
    values = pipeline_parameters(compiled, ["beta=0.25", "epochs=2", "loss=jrc", "data_root=/mnt/d"])
    assert values["beta"] == 0.25 and values["epochs"] == 2 and isinstance(values["epochs"], int)
    assert values["loss"] == "jrc" and values["data_root"] == "/mnt/d" and values["seed"] == 0
    with pytest.raises(ValueError, match="no such parameter; it has alpha"):
        pipeline_parameters(compiled, ["betta=0.2"])
    with pytest.raises(ValueError, match="epochs='two': expected a whole number"):
        pipeline_parameters(compiled, ["epochs=two"])
    with pytest.raises(ValueError, match="name=value"):
        pipeline_parameters(compiled, ["beta"])


def test_beam_flags_given_at_compile_time_reach_every_beam_component(compiled, tmp_path):
    """The same pipeline on Dataflow: only the flags differ (docs/SCALING.md)."""
    dataflow = ("--runner=DataflowRunner", "--project=p1", "--region=europe-west4", "--temp_location=gs://b/tmp")
    executors = {}
    for job, flags in ((compiled, ()), (_compile(tmp_path, f"--beam-args={' '.join(dataflow)}"), dataflow)):
        for name, spec in job["pipelineSpec"]["deploymentSpec"]["executors"].items():
            executors.setdefault(name, []).append(spec.get("container", {}).get("args", []))
    task_executors = {name for name in executors if name.split("_executor")[0] in TASKS}
    assert len(task_executors) == len(TASKS)
    for name in task_executors:
        default_args, dataflow_args = executors[name]
        assert "--direct_running_mode=multi_processing" in default_args and "--runner=DataflowRunner" not in default_args
        assert dataflow_args[-len(dataflow):] == list(dataflow), name
        assert not any(a.startswith("--direct_") for a in dataflow_args), name
