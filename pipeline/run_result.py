"""What one pipeline run produced, read from its ML Metadata store: the one reader of a run's
outputs (`sparsectr run`, check-data, report and experiment use it).

A pipeline root holds the outputs of every earlier run too, so "the newest
directory" can belong to another run: a run that fails in the Trainer would
show the previous run's evaluation and pushed model. This reader takes the
executions the run added to the store (ids above a mark taken before it
started), and their output artifacts; an execution answered from the cache
lists the artifacts it reused. A failed execution has no output artifacts;
its directory (`pipeline_root/<node>/<output>/<execution id>`, TFX's layout)
may still hold what it wrote before failing, such as ExampleGen's rejects.

RunOutputs is the store's view (executions and artifacts by node); RunResult is
what they mean (rows, splits, anomalies, model, history, evaluation, blessing,
pushed model), typed.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
from pathlib import Path
from typing import Any, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.utils import path_utils

from components.criteo_example_gen.executor import FAILED_REJECTS_DIR, load_summaries
from components.validation_gate.executor import describe_anomalies, load_anomalies, split_counts
from evaluation.results import OVERALL, slice_metrics
from models.run_files import trained_model_config, training_history
from pipeline.config import SPLIT_NAMES, PipelineConfig
from pipeline.pipeline import BASELINE_EVALUATOR

NODE_CONTEXT = "node"
RUN_CONTEXT = "pipeline_run"  # its name is the run id: the run's start time (LocalDagRunner, BeamDagRunner)
_RUN_ID_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y%m%d-%H%M%S.%f")
EXAMPLE_GEN = "CriteoExampleGen"
_DONE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


def _run_time(run_id: str) -> Optional[datetime.datetime]:
    for pattern in _RUN_ID_FORMATS:
        try:
            return datetime.datetime.strptime(run_id, pattern)
        except ValueError:
            continue
    return None


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """The pipeline's SQLite ML Metadata store (created when missing)."""
    os.makedirs(os.path.dirname(os.path.abspath(metadata_path)), exist_ok=True)
    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))


def execution_mark(store: metadata_store.MetadataStore) -> int:
    """The newest execution id so far: executions above it belong to runs started later."""
    return max((e.id for e in store.get_executions()), default=0)


@dataclasses.dataclass
class RunOutputs:
    pipeline_root: str
    executions: dict[str, metadata_store_pb2.Execution]  # by node id (component id)
    _store: metadata_store.MetadataStore = dataclasses.field(repr=False)

    @classmethod
    def since(cls, store: metadata_store.MetadataStore, mark: int, pipeline_root: str,
              started: Optional[datetime.datetime] = None) -> "RunOutputs":
        """The executions added to `store` after `mark` (execution_mark), by node id; the last one
        of a node wins. With `started` (the local time just before the run began), only those of
        the first run that began at or after it: another process's run writing to the same store
        at the same time (one that began earlier, or later) is left out."""
        executions = [(e, store.get_contexts_by_execution(e.id)) for e in store.get_executions() if e.id > mark]
        runs = {e.id: {c.name for c in contexts if c.type == RUN_CONTEXT} for e, contexts in executions}
        candidates = sorted((_run_time(run), run) for names in runs.values() for run in names
                            if started and _run_time(run) and _run_time(run) >= started)
        ours = candidates[0][1] if candidates else None
        return cls._by_node(pipeline_root, store, [(e, contexts) for e, contexts in executions
                                                   if ours is None or not runs[e.id] or ours in runs[e.id]])

    @classmethod
    def latest(cls, store: metadata_store.MetadataStore, pipeline_root: str) -> "RunOutputs":
        """The newest successful execution of every node, whichever run it belongs to."""
        return cls._by_node(pipeline_root, store, [(e, store.get_contexts_by_execution(e.id))
                                                   for e in store.get_executions() if e.last_known_state in _DONE])

    @classmethod
    def _by_node(cls, pipeline_root: str, store, executions: list) -> "RunOutputs":
        """(execution, its contexts) -> the last execution of each node, by node id."""
        by_node = {}
        for execution, contexts in sorted(executions, key=lambda ec: ec[0].id):
            nodes = [c.name for c in contexts if c.type == NODE_CONTEXT]
            by_node[nodes[0].rsplit(".", 1)[-1] if nodes else execution.type.rsplit(".", 1)[-1]] = execution
        return cls(pipeline_root, by_node, store)

    def succeeded(self, node: str) -> bool:
        execution = self.executions.get(node)
        return execution is not None and execution.last_known_state in _DONE

    def artifacts(self, node: str, key: str) -> list[metadata_store_pb2.Artifact]:
        """Output `key` of this run's `node` (for a cached execution, the artifacts it reused)."""
        execution = self.executions.get(node)
        if execution is None:
            return []
        events = [e for e in self._store.get_events_by_execution_ids([execution.id])
                  if e.type == metadata_store_pb2.Event.OUTPUT and e.path.steps and e.path.steps[0].key == key]
        return self._store.get_artifacts_by_id([e.artifact_id for e in events])

    def uri(self, node: str, key: str) -> Optional[str]:
        """The directory of output `key` of this run's `node`; for a failed execution, the directory
        it was writing (when it exists); None when the node did not run in this run."""
        artifacts = self.artifacts(node, key)
        if artifacts:
            return self._located(artifacts[0].uri)
        execution = self.executions.get(node)
        if execution is None:
            return None
        path = os.path.join(self.pipeline_root, node, key, str(execution.id))
        return path if os.path.isdir(path) else None

    def _located(self, uri: str) -> str:
        """An artifact's URI as a path from here. A run given a relative --output records relative
        URIs, relative to where it ran; TFX writes every output at <pipeline root>/<node>/<output>/<id>,
        so such a URI is found under this reader's pipeline root."""
        if "://" in uri or os.path.isabs(uri):
            return uri
        return os.path.join(self.pipeline_root, *Path(uri).parts[-3:])

    def producer_seconds(self, node: str, key: str) -> Optional[float]:
        """Wall time of the execution that produced output `key` (not a cached re-use of it)."""
        artifacts = self.artifacts(node, key)
        if not artifacts:
            return None
        ids = [e.execution_id for e in self._store.get_events_by_artifact_ids([artifacts[0].id])
               if e.type == metadata_store_pb2.Event.OUTPUT]
        for execution in self._store.get_executions_by_id(ids):
            if execution.last_known_state == metadata_store_pb2.Execution.COMPLETE:
                return (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        return None


@dataclasses.dataclass
class RunResult:
    """What a run produced: the outputs' directories and states from ML Metadata, None where a step
    did not run in it or failed; their contents are read on demand (the methods)."""
    outputs: RunOutputs
    rejects_dir: Optional[str]  # CriteoExampleGen's rejects, also of a failed run
    examples_dir: Optional[str]
    statistics_dir: Optional[str]
    anomalies_dir: Optional[str]
    model_dir: Optional[str]  # a successful Trainer's model artifact
    model_run_dir: Optional[str]  # the Trainer's run directory (history, diagnostics), even of a failed one
    evaluation_dir: Optional[str]  # a successful Evaluator's
    blessed: Optional[bool]
    blessing_dir: Optional[str]  # the Evaluator's blessing (BLESSED or NOT_BLESSED, and the checks' refusals)
    baseline_evaluation_dir: Optional[str]  # the logistic-regression baseline's (BaselineEvaluator)
    pushed_model: Optional[str]  # where ServingPusher pushed this run's model

    @classmethod
    def from_outputs(cls, outputs: RunOutputs) -> "RunResult":
        def done(node: str, key: str) -> Optional[str]:
            return outputs.uri(node, key) if outputs.succeeded(node) else None

        blessing = outputs.artifacts("Evaluator", "blessing") if outputs.succeeded("Evaluator") else []
        pushed = outputs.artifacts("ServingPusher", "pushed_model") if outputs.succeeded("ServingPusher") else []
        return cls(
            outputs=outputs,
            rejects_dir=outputs.uri(EXAMPLE_GEN, "rejects") or outputs.uri(EXAMPLE_GEN, FAILED_REJECTS_DIR),
            examples_dir=outputs.uri(EXAMPLE_GEN, "examples"),
            statistics_dir=outputs.uri("StatisticsGen", "statistics"),
            anomalies_dir=outputs.uri("ExampleValidator", "anomalies"),
            model_dir=done("Trainer", "model"),
            model_run_dir=outputs.uri("Trainer", "model_run"),
            evaluation_dir=done("Evaluator", "evaluation"),
            blessed=bool(blessing[0].custom_properties["blessed"].int_value) if blessing else None,
            blessing_dir=outputs.uri("Evaluator", "blessing") if blessing else None,
            baseline_evaluation_dir=done(BASELINE_EVALUATOR, "evaluation"),
            pushed_model=(pushed[0].custom_properties["pushed_destination"].string_value
                          if pushed and pushed[0].custom_properties["pushed"].int_value else None),
        )

    def uri(self, node: str, key: str) -> Optional[str]:
        """Any other output's directory (RunOutputs.uri)."""
        return self.outputs.uri(node, key)

    @property
    def serving_model_dir(self) -> Optional[str]:
        """The trained model's SavedModel (TFX's Format-Serving directory)."""
        return path_utils.serving_model_path(self.model_dir) if self.model_dir else None

    def ingestion(self) -> Optional[dict[str, Any]]:
        """CriteoExampleGen's rows, examples, positives and rejects by reason."""
        return load_summaries(self.rejects_dir) if self.rejects_dir else None

    def splits(self) -> dict[str, dict[str, int]]:
        """Examples and positives per split (StatisticsGen)."""
        counts = split_counts(self.statistics_dir) if self.statistics_dir else {}
        order = {name: i for i, name in enumerate(SPLIT_NAMES)}
        return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def anomalies(self) -> Optional[list[dict[str, Any]]]:
        """ExampleValidator's anomalies, described; None when it did not run."""
        return describe_anomalies(load_anomalies(self.anomalies_dir)) if self.anomalies_dir else None

    def trained_config(self) -> Optional[dict[str, Any]]:
        return trained_model_config(self.model_dir) if self.model_dir else None

    def history(self) -> Optional[dict[str, list[float]]]:
        return training_history(self.model_run_dir)

    def evaluation(self, min_slice_size: int = 1) -> dict[str, dict[str, float]]:
        """The Evaluator's metrics by slice (evaluation/results.py), empty without an evaluation."""
        return slice_metrics(self.evaluation_dir, min_slice_size) if self.evaluation_dir else {}

    def baseline_evaluation(self) -> dict[str, float]:
        """The baseline's overall metrics, empty without them."""
        if not self.baseline_evaluation_dir:
            return {}
        return slice_metrics(self.baseline_evaluation_dir).get(OVERALL, {})


def read_run(store: metadata_store.MetadataStore, mark: int, pipeline_root: str,
             started: Optional[datetime.datetime] = None) -> RunResult:
    """What the run started after `mark` (execution_mark), and at or after `started`, produced."""
    return RunResult.from_outputs(RunOutputs.since(store, mark, pipeline_root, started))


def latest_run(output_dir: str) -> RunResult:
    """The newest successful output of every component under a run's --output directory (what
    `sparsectr report` shows)."""
    layout = PipelineConfig(data="", output_dir=output_dir)
    if not os.path.exists(layout.metadata_path):
        raise FileNotFoundError(f"{output_dir}: no {os.path.basename(layout.metadata_path)}; give the --output "
                                "directory of a `sparsectr run`")
    return RunResult.from_outputs(RunOutputs.latest(open_store(layout.metadata_path), layout.pipeline_root))
