"""ValidationGate stops on anomalies and names the feature; passes clean data."""
import os

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import standard_artifacts

from components.validation_gate.executor import ANOMALIES_FILE, DataValidationError, Executor


def _anomalies_artifact(tmp_path, per_split: dict[str, anomalies_pb2.Anomalies]):
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path)
    artifact.split_names = '["' + '","'.join(per_split) + '"]'
    for split, anomalies in per_split.items():
        os.makedirs(tmp_path / f"Split-{split}")
        (tmp_path / f"Split-{split}" / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
    return artifact


def test_clean_data_passes(tmp_path):
    artifact = _anomalies_artifact(tmp_path, {"train": anomalies_pb2.Anomalies(), "eval": anomalies_pb2.Anomalies()})
    Executor().Do({"anomalies": [artifact]}, {}, {})


def test_anomalies_fail_with_split_feature_and_description(tmp_path):
    bad = anomalies_pb2.Anomalies()
    info = bad.anomaly_info["I3"]
    info.short_description = "Out-of-range values"
    info.description = "Unexpectedly small value: -50."
    artifact = _anomalies_artifact(tmp_path, {"train": anomalies_pb2.Anomalies(), "eval": bad})
    with pytest.raises(DataValidationError, match=r"\[eval\] I3: Out-of-range values: Unexpectedly small value: -50\."):
        Executor().Do({"anomalies": [artifact]}, {}, {})
