"""Runs a compiled Kubeflow pipeline (`sparsectr compile-kfp`'s JSON) on this machine, one container
per task, as KFP's launcher would: the closest thing to a Kubeflow run without a cluster.

For each task, in dependency order, it resolves the task's parameters (run parameters or
constants) and input artifacts (the producers' outputs, with the metadata their executors wrote),
assigns output URIs under the pipeline root, and runs the task's own container command and
arguments from the deployment spec with `{{$}}` replaced by the ExecutorInput JSON: TFX's
`kubeflow_v2_run_executor` entrypoint, after the task's pre-cache-check step (ExampleGen's span
driver) when it has one. Resolver tasks (the latest blessed model) are answered from the
artifacts of earlier runs under the same pipeline root. The pipeline root is mounted at the
same path inside the containers, so artifact URIs mean the same on both sides.

Not reproduced: KFP's caching, retries, pod resources and its metadata store.
"""
from __future__ import annotations

import dataclasses
import graphlib
import json
import os
import re
import subprocess
import time
import uuid
from typing import Any, Callable, Optional

from pipeline.kubeflow import pipeline_parameters

ARTIFACT_REGISTRY = "kfp_local_artifacts.jsonl"  # under the pipeline root: every artifact produced
EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")
_LOG_TAIL_LINES = 40


@dataclasses.dataclass(frozen=True)
class ContainerEngine:
    """How to run a container: `<executable> <global_flags> run --rm <run_flags> ...`.
    These machines need podman with `global_flags=("--runtime", "runc")` and ulimits in run_flags."""

    executable: str = "podman"
    global_flags: tuple[str, ...] = ()
    run_flags: tuple[str, ...] = ()

    def command(self, image: str, entrypoint: list[str], args: list[str], mounts: list[tuple[str, str, bool]]) -> list[str]:
        volumes = [flag for host, inside, read_only in mounts
                   for flag in ("-v", f"{host}:{inside}" + (":ro" if read_only else ""))]
        return [self.executable, *self.global_flags, "run", "--rm", *self.run_flags, *volumes,
                "--entrypoint", entrypoint[0], image, *entrypoint[1:], *args]


@dataclasses.dataclass
class TaskResult:
    name: str
    seconds: float
    outputs: dict[str, list[dict[str, Any]]]  # output key -> RuntimeArtifacts (JSON form)
    log: str = ""


def _artifact_title(artifact_type: dict[str, Any]) -> str:
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    match = re.search(r"^title:\s*(\S+)", artifact_type.get("instanceSchema", ""), re.M)
    return match.group(1) if match else "tfx.Artifact"


class ArtifactRegistry:
    """The artifacts of every run under a pipeline root (one JSON line each), for resolver tasks."""

    def __init__(self, pipeline_root: str):
        self.path = os.path.join(pipeline_root, ARTIFACT_REGISTRY)

    def all(self) -> list[dict[str, Any]]:
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def add(self, artifacts: list[dict[str, Any]]) -> None:
        with open(self.path, "a") as f:
            for artifact in artifacts:
                f.write(json.dumps(artifact, sort_keys=True) + "\n")

    def query(self, expression: str, inputs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The latest artifact matching a KFP resolver filter of `A AND B ...` clauses, as TFX's
        Kubeflow V2 compiler writes them: schema_title="T", state=LIVE, metadata.K.number_value=V,
        name="N" (N may refer to the task's input artifacts' metadata)."""
        def input_metadata(match: re.Match) -> str:
            key, field = re.fullmatch(r"\{\{\$\.inputs\.artifacts\['(\w+)'\]\.metadata\['(\w+)'\]\}\}",
                                      match.group(0)).groups()
            artifacts = inputs.get(key) or []
            return str(artifacts[0]["metadata"].get(field, "")) if artifacts else ""

        tests: list[Callable[[dict[str, Any]], bool]] = []
        for clause in _PLACEHOLDER.sub(input_metadata, expression).split(" AND "):
            clause = clause.strip()
            if clause == "state=LIVE":
                continue
            if m := re.fullmatch(r'schema_title="([^"]+)"', clause):
                tests.append(lambda a, t=m.group(1): _artifact_title(a["type"]) == t)
            elif m := re.fullmatch(r"metadata\.(\w+)\.number_value=([-\d.]+)", clause):
                tests.append(lambda a, k=m.group(1), v=float(m.group(2)): a["metadata"].get(k) == v)
            elif m := re.fullmatch(r'name="([^"]*)"', clause):
                tests.append(lambda a, n=m.group(1): a["name"] == n)
            else:
                raise NotImplementedError(f"resolver filter clause {clause!r} (in {expression!r}) is not supported")
        matches = [a for a in self.all() if all(test(a) for test in tests)]
        return matches[-1:]


def _task_order(tasks: dict[str, Any]) -> list[str]:
    graph = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    for name, task in tasks.items():
        for spec in task.get("inputs", {}).get("artifacts", {}).values():
            if "taskOutputArtifact" in spec:
                graph[name].add(spec["taskOutputArtifact"]["producerTask"])
    return list(graphlib.TopologicalSorter(graph).static_order())


def _parameter_values(task: dict[str, Any], run_parameters: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for name, spec in task.get("inputs", {}).get("parameters", {}).items():
        if "componentInputParameter" in spec:
            values[name] = run_parameters[spec["componentInputParameter"]]
        elif "constant" in spec.get("runtimeValue", {}):
            values[name] = spec["runtimeValue"]["constant"]
        else:
            raise NotImplementedError(f"task {task['taskInfo']['name']}: parameter {name} has an unsupported source {spec}")
    return values


def _substitute(args: list[str], executor_input: dict[str, Any]) -> list[str]:
    serialized = json.dumps(executor_input, sort_keys=True)
    out = [serialized if arg == EXECUTOR_INPUT_PLACEHOLDER else arg for arg in args]
    left = [arg for arg in out if arg is not serialized and _PLACEHOLDER.search(arg)]
    if left:
        raise NotImplementedError(f"unsupported KFP placeholders in the container arguments: {left}")
    return out


class LocalKubeflowRun:
    """One run of a compiled pipeline: `LocalKubeflowRun(job, root, image, engine).run(params)`."""

    def __init__(self, job_path: str, pipeline_root: str, engine: ContainerEngine,
                 image: Optional[str] = None, mounts: tuple[str, ...] = (),
                 progress: Callable[[str], None] = print):
        with open(job_path) as f:
            self.job = json.load(f)
        self.spec = self.job["pipelineSpec"]
        self.pipeline_root = os.path.abspath(pipeline_root)
        self.engine = engine
        self.image = image  # None: each task's image from the deployment spec
        self.mounts = [(os.path.abspath(m), os.path.abspath(m), True) for m in mounts]
        self.progress = progress
        self.registry = ArtifactRegistry(self.pipeline_root)

    def run(self, overrides: Optional[list[str]] = None) -> dict[str, TaskResult]:
        run_parameters = pipeline_parameters(self.job, overrides or [])
        run_id = f"{self.spec['pipelineInfo']['name']}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        run_dir = os.path.join(self.pipeline_root, run_id)
        os.makedirs(run_dir)
        # The image runs as a non-root user: let it write task outputs under this run.
        for path in (self.pipeline_root, run_dir):
            os.chmod(path, 0o777)
        tasks = self.spec["root"]["dag"]["tasks"]
        results: dict[str, TaskResult] = {}
        order = _task_order(tasks)
        for number, name in enumerate(order, 1):
            start = time.time()
            result = self._run_task(name, tasks[name], run_parameters, run_dir, results)
            result.seconds = time.time() - start
            results[name] = result
            self.progress(f"[{number}/{len(order)}] {name}: done in {result.seconds:.0f} s")
        return results

    def _inputs(self, task: dict[str, Any], results: dict[str, TaskResult]) -> dict[str, list[dict[str, Any]]]:
        inputs = {}
        for key, spec in task.get("inputs", {}).get("artifacts", {}).items():
            source = spec["taskOutputArtifact"]
            artifacts = results[source["producerTask"]].outputs.get(source["outputArtifactKey"], [])
            if artifacts:  # an empty resolver output leaves an optional input unset
                inputs[key] = artifacts
        return inputs

    def _run_task(self, name: str, task: dict[str, Any], run_parameters: dict[str, Any], run_dir: str,
                  results: dict[str, TaskResult]) -> TaskResult:
        component = self.spec["components"][task["componentRef"]["name"]]
        executor = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]
        inputs = self._inputs(task, results)
        if "resolver" in executor:
            outputs = {key: self.registry.query(query["filter"], inputs)
                       for key, query in executor["resolver"]["outputArtifactQueries"].items()}
            return TaskResult(name, 0.0, outputs)
        if "container" not in executor:
            raise NotImplementedError(f"task {name}: executor kind {sorted(executor)} is not supported")
        task_dir = os.path.join(run_dir, name)
        os.makedirs(task_dir)
        os.chmod(task_dir, 0o777)
        outputs = {
            key: [{"name": f"{os.path.basename(run_dir)}/{name}/{key}", "type": definition["artifactType"],
                   "uri": os.path.join(task_dir, key), "metadata": {}}]
            for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items()
        }
        for artifacts in outputs.values():  # KFP's launcher prepares local output paths too
            os.makedirs(artifacts[0]["uri"])
            os.chmod(artifacts[0]["uri"], 0o777)
        executor_input = {
            "inputs": {"parameterValues": _parameter_values(task, run_parameters),
                       "artifacts": {key: {"artifacts": artifacts} for key, artifacts in inputs.items()}},
            "outputs": {"artifacts": {key: {"artifacts": artifacts} for key, artifacts in outputs.items()},
                        "outputFile": os.path.join(task_dir, "executor_output.json")},
        }
        with open(os.path.join(task_dir, "executor_input.json"), "w") as f:
            json.dump(executor_input, f, indent=1, sort_keys=True)
        container = executor["container"]
        steps = []
        pre_cache_check = container.get("lifecycle", {}).get("preCacheCheck")
        if pre_cache_check:
            steps.append(("pre-cache-check", pre_cache_check["command"], pre_cache_check.get("args", [])))
        steps.append(("executor", container["command"], container.get("args", [])))
        log_path = os.path.join(task_dir, "log.txt")
        for step, command, args in steps:
            argv = self.engine.command(self.image or container["image"], command, _substitute(args, executor_input),
                                       [(self.pipeline_root, self.pipeline_root, False), *self.mounts])
            with open(log_path, "a") as log:
                log.write(f"$ {step}\n")
                log.flush()
                code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT).returncode
            if code != 0:
                with open(log_path) as log:
                    tail = "".join(log.readlines()[-_LOG_TAIL_LINES:])
                raise RuntimeError(f"task {name} ({step}) exited with {code}; log {log_path}, last lines:\n{tail}")
        with open(executor_input["outputs"]["outputFile"]) as f:
            written = json.load(f).get("artifacts", {})
        for key, artifacts in outputs.items():
            for artifact, reported in zip(artifacts, written.get(key, {}).get("artifacts", [])):
                artifact["metadata"] = reported.get("metadata", {})
        self.registry.add([a for artifacts in outputs.values() for a in artifacts])
        return TaskResult(name, 0.0, outputs, log_path)
