"""`sparsectr check-data`: ingestion and validation alone, with a report.

Runs CriteoExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator and
ValidationGate with LocalDagRunner (SQLite metadata) on each input, then
reads what they wrote: rows per split, rejects by reason, first rejects and
anomalies. Data is usable when nothing failed and no anomaly was found.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from typing import Any, Optional

from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.criteo_example_gen.executor import rejects_report
from components.validation_gate.executor import anomalies_report
from pipeline.config import LOCAL_BEAM_ARGS, PipelineConfig
from pipeline.errors import describe_error
from pipeline.pipeline import create_data_pipeline
from pipeline.run_result import RunResult, execution_mark, open_store, read_run


def data_report(result: RunResult) -> dict[str, Any]:
    """Rows per split, rejects and anomalies of one run, as the JSON report gives them."""
    report: dict[str, Any] = {"ingestion": result.ingestion(), "splits": result.splits(),
                              "anomalies": result.anomalies(),
                              "examples_dir": result.examples_dir}
    if report["ingestion"] is not None:
        report["rejects_dir"] = result.rejects_dir
    return report


def keep_rejects(report: dict[str, Any], rejects_dir: Optional[str]) -> None:
    """Copies the rejected lines out of a working directory that is about to be deleted."""
    source = report.get("rejects_dir")
    if not (rejects_dir and source and report["ingestion"] and report["ingestion"]["rejected"]):
        return
    target = os.path.join(rejects_dir, os.path.basename(report["data"].rstrip("/")) or "input")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    report["rejects_dir"] = target


def check_one(config: PipelineConfig, rejects_dir: Optional[str] = None) -> dict[str, Any]:
    """Runs the data pipeline on `config.data` and reports; never raises for bad data."""
    error = None
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    try:
        LocalDagRunner().run(create_data_pipeline(config))
    except Exception as e:  # the report says what failed; the exit code follows
        error = describe_error(e)
    report = data_report(read_run(store, mark, config.pipeline_root))
    report["data"] = config.data
    report["max_reject_fraction"] = config.max_reject_fraction
    report["error"] = error
    report["usable"] = error is None and not report["anomalies"] and report["ingestion"] is not None
    keep_rejects(report, rejects_dir)
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
    if report["anomalies"] is not None:  # None: the validation did not run
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
    input_format: str = PipelineConfig.input_format
    max_reject_fraction: float = PipelineConfig.max_reject_fraction
    beam_pipeline_args: tuple[str, ...] = LOCAL_BEAM_ARGS
    rejects_dir: Optional[str] = None  # where rejected lines are kept (the workdir may be temporary)


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
        reports.append(check_one(config, args.rejects_dir))
    return reports
