"""Fail closed on hostile or broken input (README, "Reliability"): every field's cost is bounded,
unreadable files are one clear line, empty input and bad settings are errors, clients check what
they get back. Fast tests; the pipeline-level cases are in test_pipeline_e2e.py and
test_data_pipeline_e2e.py."""
from __future__ import annotations

import gzip
import subprocess
import sys
import time

import pytest

from models import features
from models.criteo_rows import (MAX_CATEGORICAL_CHARS, STANDARD_TSV, CorruptFileError, RejectReason, RowError,
                                parse_integer, parse_line, read_rows_report)
from components.criteo_example_gen.executor import LineRange, plan_ranges, read_range

PROJECT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _line(label: str = "0", integers=None, categoricals=None) -> str:
    integers = integers or [str(i) for i in range(features.NUM_INTEGER_FEATURES)]
    categoricals = categoricals or [f"{i:08x}" for i in range(len(features.CATEGORICAL_FEATURE_KEYS))]
    return "\t".join([label, *integers, *categoricals])


@pytest.mark.parametrize("text,reason", [
    ("1" * 1_000_000, RejectReason.FIELD_TOO_LONG),
    ("9" * 40, RejectReason.FIELD_TOO_LONG),
    ("1e999999999", RejectReason.INTEGER_OUT_OF_RANGE),
    ("-1E+99999999999999999", RejectReason.INTEGER_OUT_OF_RANGE),
    ("9" * 20, RejectReason.INTEGER_OUT_OF_RANGE),
    ("0.5e-999999999", RejectReason.NON_INTEGRAL_NUMBER),
])
def test_a_hostile_integer_is_rejected_in_well_under_a_millisecond(text, reason):
    started = time.perf_counter()
    for _ in range(100):
        with pytest.raises(RowError) as e:
            parse_integer(text)
    assert (time.perf_counter() - started) / 100 < 1e-3
    assert e.value.reason == reason
    assert len(e.value.detail) < 200  # the message holds an excerpt, not the field


def test_a_huge_categorical_is_rejected_and_a_long_one_kept():
    values = [f"{i:08x}" for i in range(len(features.CATEGORICAL_FEATURE_KEYS))]
    kept = parse_line(_line(categoricals=["x" * MAX_CATEGORICAL_CHARS] + values[1:]), STANDARD_TSV)
    assert kept["C1"] == b"x" * MAX_CATEGORICAL_CHARS
    with pytest.raises(RowError) as e:
        parse_line(_line(categoricals=["x" * (1 << 20)] + values[1:]), STANDARD_TSV)
    assert e.value.reason == RejectReason.FIELD_TOO_LONG and e.value.detail.startswith("C1=")


def test_only_ascii_digits_are_digits():
    for text in ("\u0663", "\uff11", "1\u0663", "\u00b2"):
        with pytest.raises(RowError):
            parse_integer(text)
    assert parse_integer("-0012") == -12


def test_a_bom_at_the_start_of_a_file_is_dropped(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes(b"\xef\xbb\xbf" + (_line("1") + "\n" + _line("0") + "\n").encode())
    ranges = plan_ranges(str(path), "auto")
    lines = [raw for _, raw in read_range(ranges[0])]
    assert [parse_line(raw.decode().rstrip("\n"), STANDARD_TSV)[features.LABEL_KEY] for raw in lines] == [1, 0]
    assert [row[features.LABEL_KEY] for row in read_rows_report(str(path)).rows] == [1, 0]


def test_a_bom_before_a_csv_header_is_dropped(tmp_path):
    path = tmp_path / "bom.csv"
    header = ",".join(features.RAW_COLUMNS)
    path.write_bytes(b"\xef\xbb\xbf" + (header + "\n" + _line("1").replace("\t", ",") + "\n").encode())
    read = read_rows_report(str(path))
    assert not read.bad_lines and read.rows[0][features.LABEL_KEY] == 1


def _truncated_gzip(tmp_path, lines: int = 3000):
    whole = gzip.compress(("".join(_line(str(i % 2)) + "\n" for i in range(lines))).encode())
    path = tmp_path / "day_0.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def test_a_truncated_gzip_names_the_file_and_what_to_do(tmp_path):
    path = _truncated_gzip(tmp_path)
    with pytest.raises(CorruptFileError, match="truncated or corrupt.*fetch it again"):
        list(read_range(LineRange(str(path), 0, -1, 1, "")))
    with pytest.raises(CorruptFileError, match=str(path)):
        read_rows_report(str(path))


def test_rows_to_score_may_lack_the_label_and_bad_lines_are_reported(tmp_path):
    labeled, unlabeled = _line("1"), _line("1").split("\t", 1)[1]
    path = tmp_path / "rows.tsv.gz"
    path.write_bytes(gzip.compress(f"{labeled}\n{unlabeled}\nnot a row\n{unlabeled}\n".encode()))
    read = read_rows_report(str(path), label_optional=True)
    assert len(read.rows) == 3 and read.row_lines == [1, 2, 4]
    assert [n for n, _ in read.bad_lines] == [3] and "wrong_column_count" in read.bad_lines[0][1]
    assert all(features.LABEL_KEY not in row for row in read.rows[1:])


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparsectr.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


@pytest.mark.parametrize("flag", ["--learning-rate=-1", "--learning-rate=nan", "--alpha=2", "--beta=0", "--epochs=0",
                                  "--batch-size=0", "--min-auc=1.5", "--max-reject-fraction=2",
                                  "--max-loss-growth=0.5", "--auc-tolerance=-1"])
def test_a_bad_setting_is_a_usage_error_before_any_work(tmp_path, flag):
    started = time.monotonic()
    result = _cli("run", "--output", str(tmp_path / "out"), flag)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 10  # the import of Python itself included; no data generated
    assert "usage: sparsectr run" in result.stderr and flag.split("=")[0].lstrip("-").replace("-", "_") in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
