"""Ingestion and validation as a real TFX pipeline (LocalDagRunner, SQLite). The Kaggle sample goes
through the default Beam set-up (one worker process per core); the rest run Beam in process, which
starts in seconds rather than tens of seconds."""
from __future__ import annotations

import gzip
import json
import os
import shlex

import pytest
import tensorflow as tf

from conftest import in_memory_beam_args
from pipeline.config import PipelineConfig
from pipeline.run_result import RunOutputs, open_store
from sparsectr import cli
from sparsectr.check_data import CheckDataArgs, run_check_data

pytestmark = pytest.mark.slow

REAL_FILES = {  # file -> (rows, positives), from tests/data/criteo/README.md
    "kaggle_train_head10k.tsv": (10_109, 2_198),
    "criteo1tb_day0_head10k.tsv": (10_000, 265),
    "kaggle_sample200_header.csv": (200, 49),
}


def _corrupt_copy(source, target) -> dict[int, str]:
    """A copy of `source` with a dozen bad lines of every kind; line number -> reason."""
    lines = source.read_bytes().split(b"\n")[:-1]
    good = lines[5].split(b"\t")

    def with_field(i, v):
        f = list(good)
        f[i] = v
        return b"\t".join(f)

    header = b"\t".join([b"label"] + [b"I%d" % i for i in range(1, 14)] + [b"C%d" % i for i in range(1, 27)])
    bad = {
        10: (b"\t".join(good[:30]), "wrong_column_count"),
        20: (with_field(3, b"abc"), "not_an_integer"),
        30: (with_field(4, b"2.5"), "non_integral_number"),
        40: (with_field(0, b"2"), "bad_label"),
        50: (with_field(0, b""), "bad_label"),
        60: (b"", "empty_line"),
        70: (header, "header_in_middle"),
        80: (with_field(20, b"\xff\xfe"), "undecodable_bytes"),
        90: (with_field(5, b"1e400"), "integer_out_of_range"),
        100: (b",".join(good), "wrong_column_count"),
        110: (with_field(7, b" 7"), "not_an_integer"),
        120: (with_field(0, b"yes"), "bad_label"),
    }
    for index, (line, _) in bad.items():
        lines[index] = line
    target.write_bytes(b"\n".join(lines) + b"\n")
    return {index + 1: reason for index, (_, reason) in bad.items()}


def test_real_samples_are_ingested_whole_and_split_by_ratio(criteo_dir, tmp_path):
    first, *rest = [str(criteo_dir / name) for name in REAL_FILES]
    reports = (run_check_data(CheckDataArgs(paths=[first], workdir=str(tmp_path / "default")))
               + run_check_data(CheckDataArgs(paths=rest, workdir=str(tmp_path / "in_process"),
                                              beam_pipeline_args=in_memory_beam_args())))
    for report, (name, (rows, positives)) in zip(reports, REAL_FILES.items()):
        assert report["usable"], (name, report["error"], report["anomalies"])
        ingestion = report["ingestion"]
        assert (ingestion["rows"], ingestion["examples"], ingestion["rejected"]) == (rows, rows, 0), name
        assert ingestion["positives"] == positives, name
        splits = report["splits"]
        assert list(splits) == ["train", "eval", "test"]
        assert sum(s["examples"] for s in splits.values()) == rows
        assert sum(s["positives"] for s in splits.values()) == positives
        if rows > 1000:  # 8:1:1 by hash; 5 sigma of a binomial share is under 0.02 here
            assert abs(splits["train"]["examples"] / rows - 0.8) < 0.02
            assert abs(splits["eval"]["examples"] / rows - 0.1) < 0.015
            assert abs(splits["test"]["examples"] / rows - 0.1) < 0.015
        # The examples on disk are what the report counts.
        files = tf.io.gfile.glob(os.path.join(report["examples_dir"], "Split-*", "*.gz"))
        assert sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP")) == rows, name


def test_check_data_reports_each_bad_line_and_fails_above_the_threshold(criteo_dir, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.tsv"
    expected = _corrupt_copy(criteo_dir / "kaggle_train_head10k.tsv", corrupt)
    out_json = tmp_path / "report.json"
    beam = [f"--beam-args={shlex.join(in_memory_beam_args())}"]
    code = cli.main(["check-data", str(corrupt), "--json", str(out_json), "--workdir", str(tmp_path / "w1"),
                     "--rejects-dir", str(tmp_path / "rejects"), *beam])
    assert code == 1  # 12 of 10,109 rows = 0.12% > 0.1%
    report = json.loads(out_json.read_text())
    assert not report["usable"] and report["error"].startswith("CriteoExampleGen rejected 12 of 10109 rows")
    assert "\n" not in report["error"]
    ingestion = report["ingestion"]
    assert ingestion["rejected"] == 12 and ingestion["examples"] == 10_109 - 12
    assert {(r["line"], r["reason"]) for r in ingestion["first_rejects"]} == set(expected.items())
    printed = capsys.readouterr().out
    for line, reason in expected.items():
        assert f"corrupt.tsv:{line}: {reason}" in printed
    # The same rows under a looser limit: usable, and the rejects are still reported.
    code = cli.main(["check-data", str(corrupt), "--max-reject-fraction", "0.01", "--json", str(out_json),
                     "--workdir", str(tmp_path / "w2"), "--rejects-dir", str(tmp_path / "rejects"), *beam])
    report = json.loads(out_json.read_text())
    assert code == 0 and report["usable"] and report["ingestion"]["rejected"] == 12
    assert report["ingestion"]["rejected_by_reason"] == {
        "bad_label": 3, "empty_line": 1, "header_in_middle": 1, "integer_out_of_range": 1, "non_integral_number": 1,
        "not_an_integer": 2, "undecodable_bytes": 1, "wrong_column_count": 2}


def test_hostile_fields_are_rejected_by_line_and_the_rest_ingested(criteo_dir, tmp_path):
    """A 1 MB integer field and a 9-character exponent that would expand to a billion digits: two
    rejects with their reasons and line numbers, every other row ingested (README, "Reliability")."""
    lines = (criteo_dir / "kaggle_train_head10k.tsv").read_bytes().split(b"\n")[:3000]
    for index, value in ((99, b"7" * (1 << 20)), (2499, b"1e999999999")):
        fields = lines[index].split(b"\t")
        fields[2] = value
        lines[index] = b"\t".join(fields)
    path = tmp_path / "hostile.tsv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    [report] = run_check_data(CheckDataArgs(paths=[str(path)], workdir=str(tmp_path / "w"),
                                            rejects_dir=str(tmp_path / "rejects"),
                                            beam_pipeline_args=in_memory_beam_args()))
    assert report["usable"], report["error"]
    ingestion = report["ingestion"]
    assert ingestion["rejected"] == 2 and ingestion["examples"] == len(lines) - 2
    assert [(r["line"], r["reason"]) for r in ingestion["first_rejects"]] == [
        (100, "field_too_long"), (2500, "integer_out_of_range")]
    assert all(len(r["detail"]) < 200 and len(r["raw"]) < 5000 for r in ingestion["first_rejects"])
    # The rejected lines are kept where the report says, outside the temporary working directory.
    assert report["rejects_dir"] == str(tmp_path / "rejects" / "hostile.tsv")
    kept = [json.loads(line) for f in tf.io.gfile.glob(os.path.join(report["rejects_dir"], "*", "rejects*.jsonl"))
            for line in open(f)]
    assert sorted(r["line"] for r in kept) == [100, 2500]


def test_unreadable_or_empty_input_is_one_line_and_stops_before_transform(criteo_dir, tmp_path, capsys):
    whole = gzip.compress((criteo_dir / "kaggle_train_head10k.tsv").read_bytes())
    (tmp_path / "truncated.tsv.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.tsv").write_bytes(b"")
    (tmp_path / "header.csv").write_bytes((criteo_dir / "kaggle_sample200_header.csv").read_bytes().split(b"\n")[0])
    beam = [f"--beam-args={shlex.join(in_memory_beam_args())}"]
    paths = [str(tmp_path / name) for name in ("truncated.tsv.gz", "empty.tsv", "header.csv")]
    assert cli.main(["check-data", *paths, "--json", str(tmp_path / "r.json"), *beam]) == 1
    out = capsys.readouterr()
    truncated, empty, header = json.loads((tmp_path / "r.json").read_text())
    assert truncated["error"].startswith(f"{paths[0]}: the gzip data is truncated or corrupt")
    assert "fetch it again" in truncated["error"] and truncated["anomalies"] is None
    for report in (empty, header):
        assert report["error"].startswith("no rows: the input holds no data lines"), report["error"]
    assert all("\n" not in r["error"] for r in (truncated, empty, header))
    assert "Traceback" not in out.out + out.err
    printed = out.out.split("== ")
    assert "anomalies" not in printed[1] and "rejected rows" not in printed[1]  # ExampleGen failed: nothing after it

    # `run` on the empty file stops at the ValidationGate: no Transform, no model.
    assert cli.main(["run", "--data", paths[1], "--output", str(tmp_path / "out"), *beam,
                     "--json", str(tmp_path / "run.json")]) == 1
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["error"].startswith("no rows") and "trained_model" not in summary
    outputs = RunOutputs.since(open_store(str(tmp_path / "out" / "metadata.db")), 0, str(tmp_path / "out"))
    assert not outputs.succeeded("ValidationGate") and "ValidationGate" in outputs.executions
    assert "Transform" not in outputs.executions


def test_schema_anomalies_stop_the_pipeline_with_a_readable_report(criteo_dir, tmp_path):
    lines = (criteo_dir / "kaggle_train_head10k.tsv").read_text().splitlines()[:300]
    fields = lines[0].split("\t")
    fields[3] = "-50"  # I3 below the schema's minimum of -3
    lines[0] = "\t".join(fields)
    path = tmp_path / "anomalous.tsv"
    path.write_text("\n".join(lines) + "\n")
    [report] = run_check_data(CheckDataArgs(paths=[str(path)], workdir=str(tmp_path / "w"),
                                            beam_pipeline_args=in_memory_beam_args()))
    assert not report["usable"]
    assert report["ingestion"]["rejected"] == 0
    assert report["error"].startswith("The data does not match the schema (1 anomalies")
    assert any(a["feature"] == "I3" for a in report["anomalies"])


def test_spans_select_the_latest_day(criteo_dir, tmp_path):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from tfx import v1 as tfx
    from pipeline.pipeline import data_components

    lines = (criteo_dir / "criteo1tb_day0_head10k.tsv").read_text().splitlines()
    data = tmp_path / "logs"
    data.mkdir()
    (data / "day_0.tsv").write_text("\n".join(lines[:100]) + "\n")
    (data / "day_1.tsv").write_text("\n".join(lines[100:130]) + "\n")
    config = PipelineConfig(data=str(data / "day_{SPAN}.tsv"), output_dir=str(tmp_path / "out"),
                            beam_pipeline_args=in_memory_beam_args())
    example_gen = data_components(config)[0]
    LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="span-test", pipeline_root=config.pipeline_root, components=[example_gen],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path), beam_pipeline_args=list(config.beam_pipeline_args)))
    from ml_metadata.metadata_store import metadata_store
    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    [examples] = store.get_artifacts_by_type("Examples")
    assert examples.custom_properties["span"].int_value == 1
    files = tf.io.gfile.glob(os.path.join(examples.uri, "Split-*", "*.gz"))
    assert sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP")) == 30
