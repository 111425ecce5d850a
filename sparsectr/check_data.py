"""`sparsectr check-data`: ingestion and validation alone, with a report.

Runs CriteoExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator and
ValidationGate with LocalDagRunner (SQLite metadata) on each input, then
reads what they wrote: rows per split, rejects by reason, first rejects and
anomalies. Data is usable when nothing failed and no anomaly was found.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import time
from typing import Any, Optional

import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.criteo_example_gen.executor import FAILED_REJECTS_DIR, load_summaries, rejects_report
from components.criteo_example_gen.spec import DEFAULT_MAX_REJECT_FRACTION
from components.validation_gate.executor import anomalies_report, describe_anomalies, load_anomalies
from models import features
from pipeline.config import LOCAL_BEAM_ARGS, SPLIT_NAMES, PipelineConfig
from pipeline.pipeline import create_data_pipeline
from sparsectr.run_outputs import RunOutputs, execution_mark, open_store

EXAMPLE_GEN = "CriteoExampleGen"


def latest_artifact_dir(pipeline_root: str, component: str, output: str) -> Optional[str]:
    """The newest execution's directory of one component output."""
    dirs = glob.glob(os.path.join(pipeline_root, component, output, "*"))
    dirs = [d for d in dirs if os.path.basename(d).isdigit()]
    return max(dirs, key=lambda d: int(os.path.basename(d))) if dirs else None


def split_counts(statistics_dir: str) -> dict[str, dict[str, int]]:
    """Examples and positives per split, from StatisticsGen's output."""
    result = {}
    for path in sorted(glob.glob(os.path.join(statistics_dir, "Split-*", "FeatureStats.pb"))):
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
    order = {name: i for i, name in enumerate(SPLIT_NAMES)}
    return dict(sorted(result.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def collect_report(outputs: RunOutputs) -> dict[str, Any]:
    """Rows per split, rejects and anomalies of one run (sparsectr/run_outputs.py)."""
    report: dict[str, Any] = {"ingestion": None, "splits": {}, "anomalies": []}
    rejects_dir = outputs.uri(EXAMPLE_GEN, "rejects") or outputs.uri(EXAMPLE_GEN, FAILED_REJECTS_DIR)
    if rejects_dir:
        report["ingestion"] = load_summaries(rejects_dir)
        report["rejects_dir"] = rejects_dir
    report["examples_dir"] = outputs.uri(EXAMPLE_GEN, "examples")
    statistics_dir = outputs.uri("StatisticsGen", "statistics")
    if statistics_dir:
        report["splits"] = split_counts(statistics_dir)
    anomalies_dir = outputs.uri("ExampleValidator", "anomalies")
    if anomalies_dir:
        report["anomalies"] = describe_anomalies(load_anomalies(anomalies_dir))
    return report


def check_one(config: PipelineConfig) -> dict[str, Any]:
    """Runs the data pipeline on `config.data` and reports; never raises for bad data."""
    error = None
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    try:
        LocalDagRunner().run(create_data_pipeline(config))
    except Exception as e:  # the report says what failed; the exit code follows
        error = f"{type(e).__name__}: {e}"
    report = collect_report(RunOutputs.since(store, mark, config.pipeline_root))
    report["data"] = config.data
    report["max_reject_fraction"] = config.max_reject_fraction
    report["error"] = error
    report["usable"] = error is None and not report["anomalies"] and report["ingestion"] is not None
    return report


def format_data_report(report: dict[str, Any]) -> str:
    """Rows, splits, rejects and anomalies (what check-data and run both print)."""
    out = [f"== {report['data']} =="]
    ingestion = report["ingestion"]
    if ingestion:
        rows = ingestion["rows"]
        out.append(
            f"rows read {rows}, examples {ingestion['examples']}, positives {ingestion['positives']} "
            f"({ingestion['positives'] / max(ingestion['examples'], 1):.2%}), rejected {ingestion['rejected']} "
            f"({ingestion['rejected'] / max(rows, 1):.3%}; limit {report['max_reject_fraction']:.3%})"
        )
    if report["splits"]:
        out.append(f"{'split':<8}{'examples':>10}{'positives':>11}{'rate':>8}")
        for split, c in report["splits"].items():
            out.append(f"{split:<8}{c['examples']:>10}{c['positives']:>11}{c['positives'] / max(c['examples'], 1):>8.2%}")
    if ingestion:
        if ingestion["rejected"]:
            out.append("rejected rows by reason (first lines below):")
            out.append(rejects_report(ingestion))
            out.append(f"all rejected lines: {report['rejects_dir']}")
        else:
            out.append("rejected rows: none")
    out.append("anomalies: " + ("none" if not report["anomalies"] else "\n" + anomalies_report(report["anomalies"])))
    return "\n".join(out)


def format_report(report: dict[str, Any]) -> str:
    out = [format_data_report(report)]
    if report["error"]:
        out.append("error: " + report["error"])
    out.append("result: " + ("usable" if report["usable"] else "NOT usable"))
    return "\n".join(out)


@dataclasses.dataclass
class CheckDataArgs:
    paths: list[str]
    workdir: str
    input_format: str = "auto"
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    beam_pipeline_args: tuple[str, ...] = LOCAL_BEAM_ARGS


def run_check_data(args: CheckDataArgs) -> list[dict[str, Any]]:
    reports = []
    for index, path in enumerate(args.paths):
        config = PipelineConfig(
            data=path,
            output_dir=os.path.join(args.workdir, f"check-{time.strftime('%Y%m%d-%H%M%S')}-{index}"),
            input_format=args.input_format,
            max_reject_fraction=args.max_reject_fraction,
            enable_cache=False,
            beam_pipeline_args=args.beam_pipeline_args,
        )
        reports.append(check_one(config))
    return reports
