"""pipeline/kfp_local.py without containers: the task order, the resolver queries TFX compiles, and a
whole run through a stand-in container engine that records each task's command and ExecutorInput
and writes the ExecutorOutput a TFX executor would (tests/test_kubeflow_container.py runs the image)."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest

from pipeline.kfp_local import ArtifactRegistry, ContainerEngine, LocalKubeflowRun, _substitute, _task_order
from sparsectr.cli import main

RESOLVERS = ("latest_blessed_model_resolver-model-blessing-resolver", "latest_blessed_model_resolver-model-resolver")

# Stands in for `podman`: records its arguments, and for the executor step writes an ExecutorOutput
# whose artifacts carry a metadata mark (and the Evaluator's blessing) as TFX's entrypoint does.
FAKE_ENGINE = textwrap.dedent('''
    import json, os, sys
    argv = sys.argv[1:]
    log = os.environ["FAKE_ENGINE_LOG"]
    executor_input = json.loads(argv[argv.index("--json_serialized_invocation_args") + 1])
    with open(log, "a") as f:
        f.write(json.dumps({"argv": argv, "input": executor_input}) + "\\n")
    if "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor" in argv:
        outputs = {}
        for key, artifacts in executor_input["outputs"]["artifacts"].items():
            artifact = dict(artifacts["artifacts"][0])
            artifact["metadata"] = {"written_by": argv[argv.index("--executor_class_path") + 1]}
            if key == "blessing":
                model = executor_input["inputs"]["artifacts"]["model"]["artifacts"][0]["name"]
                artifact["metadata"].update(blessed=1.0, current_model_id=model)
            outputs[key] = {"artifacts": [artifact]}
        with open(executor_input["outputs"]["outputFile"], "w") as f:
            json.dump({"artifacts": outputs}, f)
''')


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("kfp") / "pipeline.json"
    assert main(["compile-kfp", "--out", str(out), "--image", "registry.example/sparsectr:1",
                 "--data", "/data/day_{SPAN}.gz", "--output", "/out"]) == 0
    return str(out)


def test_tasks_come_after_what_they_depend_on(job):
    with open(job) as f:
        tasks = json.load(f)["pipelineSpec"]["root"]["dag"]["tasks"]
    order = _task_order(tasks)
    assert sorted(order) == sorted(tasks)
    for name, task in tasks.items():
        for dependency in task.get("dependentTasks", []):
            assert order.index(dependency) < order.index(name), (dependency, name)


def test_resolver_queries_find_the_latest_blessed_model(job, tmp_path):
    with open(job) as f:
        executors = json.load(f)["pipelineSpec"]["deploymentSpec"]["executors"]
    blessing_filter = executors[f"{RESOLVERS[0]}_executor"]["resolver"]["outputArtifactQueries"]["model_blessing"]["filter"]
    model_filter = executors[f"{RESOLVERS[1]}_executor"]["resolver"]["outputArtifactQueries"]["model"]["filter"]
    registry = ArtifactRegistry(str(tmp_path))
    assert registry.query(blessing_filter, {}) == []

    def artifact(name, title, **metadata):
        return {"name": name, "type": {"instanceSchema": f"title: {title}\ntype: object\n"}, "uri": f"/{name}",
                "metadata": metadata}

    registry.add([artifact("r1/Trainer/model", "tfx.Model"),
                  artifact("r1/Evaluator/blessing", "tfx.ModelBlessing", blessed=1.0, current_model_id="r1/Trainer/model"),
                  artifact("r2/Trainer/model", "tfx.Model"),
                  artifact("r2/Evaluator/blessing", "tfx.ModelBlessing", blessed=0.0, current_model_id="r2/Trainer/model")])
    blessings = registry.query(blessing_filter, {})
    assert [b["name"] for b in blessings] == ["r1/Evaluator/blessing"]  # r2's is newer but not blessed
    assert [m["name"] for m in registry.query(model_filter, {"input": blessings})] == ["r1/Trainer/model"]
    assert registry.query(model_filter, {}) == []
    with pytest.raises(NotImplementedError, match="create_time"):
        registry.query('schema_title="tfx.Model" AND create_time>5', {})


def test_only_the_executor_input_placeholder_is_supported():
    assert _substitute(["--a", "{{$}}"], {"x": 1}) == ["--a", '{"x": 1}']
    with pytest.raises(NotImplementedError, match="outputs.parameters"):
        _substitute(["{{$.outputs.parameters['p'].output_file}}"], {})


def test_a_run_passes_parameters_and_artifacts_from_task_to_task(job, tmp_path, monkeypatch):
    engine_script = tmp_path / "fake_engine.py"
    engine_script.write_text(FAKE_ENGINE)
    log = tmp_path / "engine.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))
    engine = ContainerEngine(sys.executable, (str(engine_script),), ("--network", "host"))
    run = LocalKubeflowRun(job, str(tmp_path / "root"), engine, image="localhost/sparsectr:test",
                           mounts=(str(tmp_path),), progress=lambda line: None)
    results = run.run(["beta=0.25", "data_root=/mnt/data"])
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 12  # 11 container tasks, ExampleGen twice (span driver, then executor)

    by_task = {}
    for call in calls:
        by_task.setdefault(call["input"]["outputs"]["outputFile"].split("/")[-2], []).append(call)
    driver, executor = (c["argv"] for c in by_task["CriteoExampleGen"])
    assert "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver" in driver
    assert "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor" in executor
    # The engine command: global flags, run flags, the root and the data mounted at the same path, the image.
    root = str(tmp_path / "root")
    assert executor[:6] == ["run", "--rm", "--network", "host", "-v", f"{root}:{root}"]
    assert executor[6:8] == ["-v", f"{tmp_path}:{tmp_path}:ro"] and "localhost/sparsectr:test" in executor
    # Run parameters, typed, where the compiled spec wires them.
    parameters = {task: calls_[-1]["input"]["inputs"]["parameterValues"] for task, calls_ in by_task.items()}
    assert parameters["Transform"]["beta"] == 0.25 and parameters["Trainer"]["beta"] == 0.25
    assert parameters["CriteoExampleGen"]["input_base"] == "/mnt/data" and parameters["Trainer"]["epochs"] == 10
    # Input artifacts are the producers' outputs with the metadata their executors wrote.
    trainer_inputs = by_task["Trainer"][0]["input"]["inputs"]["artifacts"]
    transform_graph = trainer_inputs["transform_graph"]["artifacts"][0]
    assert transform_graph["uri"] == results["Transform"].outputs["transform_graph"][0]["uri"]
    assert transform_graph["metadata"] == {"written_by": "components.run_settings.executor.TransformExecutor"}
    # No blessed model yet: the Evaluator runs without a baseline; in the next run, with this one's.
    assert "baseline_model" not in by_task["Evaluator"][0]["input"]["inputs"]["artifacts"]
    assert results[RESOLVERS[1]].outputs["model"] == []
    log.write_text("")
    second = run.run([])
    evaluator = next(json.loads(line)["input"] for line in log.read_text().splitlines()
                     if "/Evaluator/" in json.loads(line)["input"]["outputs"]["outputFile"])
    assert evaluator["inputs"]["artifacts"]["baseline_model"]["artifacts"] == results["Trainer"].outputs["model"]
    assert second[RESOLVERS[1]].outputs["model"] == results["Trainer"].outputs["model"]
