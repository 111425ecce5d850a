"""What one pipeline run produced, read from its ML Metadata store.

A pipeline root holds the outputs of every earlier run too, so "the newest
directory" can belong to another run: a run that fails in the Trainer would
show the previous run's evaluation and pushed model. This reader takes the
executions the run added to the store (ids above a mark taken before it
started), and their output artifacts; an execution answered from the cache
lists the artifacts it reused. A failed execution has no output artifacts;
its directory (`pipeline_root/<node>/<output>/<execution id>`, TFX's layout)
may still hold what it wrote before failing, such as ExampleGen's rejects.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

NODE_CONTEXT = "node"


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
    def since(cls, store: metadata_store.MetadataStore, mark: int, pipeline_root: str) -> "RunOutputs":
        """The executions added to `store` after `mark` (execution_mark), by node id; the last one
        of a node wins."""
        executions = {}
        for execution in sorted(store.get_executions(), key=lambda e: e.id):
            if execution.id <= mark:
                continue
            nodes = [c.name for c in store.get_contexts_by_execution(execution.id) if c.type == NODE_CONTEXT]
            node = nodes[0].rsplit(".", 1)[-1] if nodes else execution.type.rsplit(".", 1)[-1]
            executions[node] = execution
        return cls(pipeline_root, executions, store)

    def succeeded(self, node: str) -> bool:
        execution = self.executions.get(node)
        return execution is not None and execution.last_known_state in (
            metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)

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
            return artifacts[0].uri
        execution = self.executions.get(node)
        if execution is None:
            return None
        path = os.path.join(self.pipeline_root, node, key, str(execution.id))
        return path if os.path.isdir(path) else None

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
