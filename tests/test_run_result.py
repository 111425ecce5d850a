"""pipeline/run_result.py: artifact URIs a run recorded are found from anywhere, including those
of a run given a relative --output (ML Metadata then holds paths relative to where it ran)."""
from __future__ import annotations

import datetime
import os

from ml_metadata.proto import metadata_store_pb2

from pipeline.run_result import RunOutputs, latest_run, open_store


def _record_output(store, node: str, key: str, uri: str) -> None:
    """One completed execution of `node` (TFX's node context) with one output artifact at `uri`."""
    artifact_type = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="TransformGraph"))
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name=node))
    context_type = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
    event.path.steps.add().key = key
    store.put_execution(
        metadata_store_pb2.Execution(type_id=execution_type, last_known_state=metadata_store_pb2.Execution.COMPLETE),
        [(metadata_store_pb2.Artifact(type_id=artifact_type, uri=uri), event)],
        [metadata_store_pb2.Context(type_id=context_type, name=f"sparsectr.{node}")])


def test_a_relative_artifact_uri_is_found_under_the_run_directory_from_elsewhere(tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "outputs"
    store = open_store(str(run_dir / "metadata.db"))
    _record_output(store, "Transform", "transform_graph", "outputs/pipeline_root/Transform/transform_graph/7")
    monkeypatch.chdir(tmp_path)  # not where the run ran (tmp_path/runs)
    expected = os.path.join(str(run_dir), "pipeline_root", "Transform", "transform_graph", "7")
    assert latest_run(str(run_dir)).uri("Transform", "transform_graph") == expected


def test_an_absolute_or_remote_artifact_uri_is_kept(tmp_path):
    for uri in ("/data/run/pipeline_root/Transform/transform_graph/7",
                "gs://bucket/run/pipeline_root/Transform/transform_graph/7"):
        store = open_store(str(tmp_path / f"{abs(hash(uri))}.db"))
        _record_output(store, "Transform", "transform_graph", uri)
        assert RunOutputs.latest(store, str(tmp_path / "elsewhere")).uri("Transform", "transform_graph") == uri


def _record_run_execution(store, node: str, run_id: str) -> int:
    """A completed execution of `node` in the pipeline run `run_id` (TFX's contexts)."""
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name=node))
    node_type = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    run_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    contexts = [store.get_context_by_type_and_name(kind, name) or metadata_store_pb2.Context(type_id=type_id, name=name)
                for kind, type_id, name in (("node", node_type, f"sparsectr.{node}"),
                                            ("pipeline_run", run_type, run_id))]
    [execution_id, _, _] = store.put_execution(
        metadata_store_pb2.Execution(type_id=execution_type, last_known_state=metadata_store_pb2.Execution.COMPLETE),
        [], contexts)
    return execution_id


def test_a_run_reads_only_its_own_executions_when_others_write_to_the_store(tmp_path):
    """Two processes writing one store at once: each summary must hold its own run's executions."""
    store = open_store(str(tmp_path / "metadata.db"))
    mark = 0
    earlier = _record_run_execution(store, "Trainer", "2026-12-06T06:00:00.100000")  # began before ours
    ours_trainer = _record_run_execution(store, "Trainer", "2026-12-06T06:00:05.200000")
    later = _record_run_execution(store, "Evaluator", "2026-12-06T06:00:09.000000")  # began after ours
    ours_evaluator = _record_run_execution(store, "Evaluator", "2026-12-06T06:00:05.200000")
    outputs = RunOutputs.since(store, mark, str(tmp_path), started=datetime.datetime(2026, 12, 6, 6, 0, 5))
    assert {node: e.id for node, e in outputs.executions.items()} == {"Trainer": ours_trainer,
                                                                      "Evaluator": ours_evaluator}
    assert earlier not in (ours_trainer, ours_evaluator) and later > ours_trainer
    # Without a start time, every execution after the mark (the last of each node wins).
    assert RunOutputs.since(store, mark, str(tmp_path)).executions["Evaluator"].id == ours_evaluator
