"""Fails the pipeline when a split holds no rows or ExampleValidator found anomalies, saying what
is wrong.

TFX's ExampleValidator records anomalies but lets the pipeline go on; data
that breaks the curated schema, or no data at all, must not reach Transform or the Trainer.
"""
from __future__ import annotations

import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.validation_gate import spec
from models import features

ANOMALIES_FILE = "SchemaDiff.pb"


class DataValidationError(RuntimeError):
    """The data does not match the curated schema."""


class EmptyInputError(RuntimeError):
    """The input holds no rows, or too few for every split to have one."""


STATISTICS_FILE = "FeatureStats.pb"


def split_counts(statistics_uri: str) -> dict[str, dict[str, int]]:
    """Examples and positives per split of an ExampleStatistics artifact's directory."""
    result = {}
    for path in sorted(tf.io.gfile.glob(os.path.join(statistics_uri, "Split-*", STATISTICS_FILE))):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        with tf.io.gfile.GFile(path, "rb") as f:
            stats.ParseFromString(f.read())
        dataset = stats.datasets[0]
        positives = 0
        for feature in dataset.features:
            if feature.path.step == [features.LABEL_KEY]:
                num = feature.num_stats
                positives = round(num.mean * num.common_stats.num_non_missing)
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        result[split] = {"examples": int(dataset.num_examples), "positives": int(positives)}
    return result


def check_not_empty(splits: dict[str, dict[str, int]]) -> None:
    """Raises EmptyInputError when no split, or some split, holds no examples (split_counts)."""
    examples = {split: counts["examples"] for split, counts in splits.items()}
    if not sum(examples.values()):
        raise EmptyInputError("no rows: the input holds no data lines (an empty file, or a header alone); "
                              "check the --data path and the file's contents")
    empty = sorted(split for split, count in examples.items() if count == 0)
    if empty:
        raise EmptyInputError(f"too few rows: split(s) {', '.join(empty)} hold no examples "
                              f"({sum(examples.values())} rows in all); give more rows")


def load_anomalies(uri: str) -> dict[str, anomalies_pb2.Anomalies]:
    """Anomalies per split of an ExampleAnomalies artifact's directory."""
    result = {}
    for path in sorted(tf.io.gfile.glob(os.path.join(uri, "Split-*", ANOMALIES_FILE))):
        anomalies = anomalies_pb2.Anomalies()
        with tf.io.gfile.GFile(path, "rb") as f:
            anomalies.ParseFromString(f.read())
        result[os.path.basename(os.path.dirname(path))[len("Split-"):]] = anomalies
    return result


def describe_anomalies(per_split: dict[str, anomalies_pb2.Anomalies]) -> list[dict[str, str]]:
    """One record per anomaly: split, feature (or `<dataset>`), short and long description."""
    found = []
    for split, anomalies in sorted(per_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            found.append({"split": split, "feature": feature, "short": info.short_description,
                          "description": info.description})
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            found.append({"split": split, "feature": "<dataset>", "short": info.short_description,
                          "description": info.description})
    return found


def anomalies_report(found: list[dict[str, str]]) -> str:
    return "\n".join(f"  [{a['split']}] {a['feature']}: {a['short']}: {a['description']}" for a in found)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        if input_dict.get(spec.STATISTICS_KEY):
            check_not_empty(split_counts(artifact_utils.get_single_instance(input_dict[spec.STATISTICS_KEY]).uri))
        artifact = artifact_utils.get_single_instance(input_dict[spec.ANOMALIES_KEY])
        found = describe_anomalies(load_anomalies(artifact.uri))
        if found:
            raise DataValidationError(
                f"The data does not match the schema ({len(found)} anomalies; details in {artifact.uri}):\n"
                f"{anomalies_report(found)}\n"
                "Fix the data, or, if the data is right and the schema too strict, edit schemas/schema.pbtxt."
            )
