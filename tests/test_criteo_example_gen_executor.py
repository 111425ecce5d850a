"""CriteoExampleGen's Beam transform on every format variant, and its rejects."""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import apache_beam as beam
import pytest
import tensorflow as tf

from components.criteo_example_gen import executor
from models import features
from models.criteo_rows import HeaderError

HEADER = ["label"] + list(features.FEATURE_KEYS)


def _row(label: str, i1: str = "", c1: str = "") -> list[str]:
    values = [label] + [""] * 39
    values[1], values[14] = i1, c1
    return values


def _decode(serialized: bytes) -> dict:
    example = tf.train.Example.FromString(serialized)
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = list(getattr(feature, kind).value)[0]
    return out


def _run(pattern: str, rejects_dir: str, input_format: str = "auto") -> list[dict]:
    """The transform's examples, written to TFRecord files and read back."""
    out = str(Path(rejects_dir).parent / (Path(rejects_dir).name + "-examples"))
    with beam.Pipeline() as p:
        _ = p | executor.ReadCriteo(pattern, input_format, rejects_dir) | beam.io.WriteToTFRecord(out)
    collected = [_decode(r.numpy()) for r in tf.data.TFRecordDataset(tf.io.gfile.glob(out + "*"))]
    return sorted(collected, key=lambda r: (r["label"], r.get("I1", -99), r.get("C1", b"")))


def _rejects(rejects_dir: str) -> list[dict]:
    rows = []
    for path in Path(rejects_dir).glob("rejects-*.jsonl"):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(rows, key=lambda r: (r["file"], r["line"]))


def test_tsv_gzip_and_crlf_are_read_the_same(tmp_path):
    lines = ["\t".join(_row("1", "5", "68fd1e64")), "\t".join(_row("0", "-2", ""))]
    (tmp_path / "plain.tsv").write_text("\n".join(lines) + "\n")
    (tmp_path / "crlf.tsv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (tmp_path / "packed.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    results = {}
    for name in ("plain.tsv", "crlf.tsv", "packed.gz"):
        results[name] = _run(str(tmp_path / name), str(tmp_path / f"rejects-{name}"))
    assert results["plain.tsv"] == results["crlf.tsv"] == results["packed.gz"]
    assert results["plain.tsv"] == [{"label": 0, "I1": -2}, {"label": 1, "I1": 5, "C1": b"68fd1e64"}]


def test_kaggle_competition_csv_with_id_and_float_integers(tmp_path):
    header = ["Id", "Label"] + list(features.FEATURE_KEYS)
    row = ["10000001", "1", "260.0"] + [""] * 12 + ["05db9164"] + [""] * 25
    (tmp_path / "train.csv").write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    assert _run(str(tmp_path / "train.csv"), str(tmp_path / "r")) == [{"label": 1, "I1": 260, "C1": b"05db9164"}]
    summary = json.loads((tmp_path / "r" / executor.SUMMARY_FILE).read_text())
    assert summary["rows"] == 1 and summary["examples"] == 1 and summary["positives"] == 1


def test_every_bad_row_is_rejected_with_file_line_reason_and_raw_text(tmp_path):
    good = "\t".join(_row("1", "3", "abcdef01"))
    lines = [
        good.encode(),                                   # 1 ok
        b"\t".join([b"0"] * 39),                         # 2 wrong_column_count
        "\t".join(_row("0", "x")).encode(),              # 3 not_an_integer
        "\t".join(_row("0", "2.5")).encode(),            # 4 non_integral_number
        "\t".join(_row("7")).encode(),                   # 5 bad_label
        "\t".join(_row("0", "", "\udcff")).encode("utf-8", "surrogateescape"),  # 6 undecodable_bytes
        b"",                                             # 7 empty_line
        "\t".join(HEADER).encode(),                      # 8 header_in_middle
        good.encode(),                                   # 9 ok
    ]
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    examples = _run(str(path), str(tmp_path / "r"))
    assert len(examples) == 2
    rejects = _rejects(str(tmp_path / "r"))
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "wrong_column_count"), (3, "not_an_integer"), (4, "non_integral_number"), (5, "bad_label"),
        (6, "undecodable_bytes"), (7, "empty_line"), (8, "header_in_middle"),
    ]
    assert all(r["file"] == str(path) for r in rejects)
    assert rejects[1]["raw"] == "\t".join(_row("0", "x")) and "I1=" in rejects[1]["detail"]
    assert "\\xff" in rejects[4]["raw"]
    summary = json.loads((tmp_path / "r" / executor.SUMMARY_FILE).read_text())
    assert summary["rows"] == 9 and summary["examples"] == 2 and summary["rejected"] == 7
    assert summary["rejected_by_reason"] == {r["reason"]: 1 for r in rejects}
    assert [r["line"] for r in summary["first_rejects"]] == [2, 3, 4, 5, 6, 7, 8]


def test_a_directory_reads_every_data_file_but_not_hidden_or_underscored(tmp_path):
    (tmp_path / "a.tsv").write_text("\t".join(_row("1", "1")) + "\n")
    (tmp_path / "b.tsv").write_text("\t".join(_row("0", "2")) + "\n")
    (tmp_path / "_a.tsv.truth").write_text("0.5\n")
    (tmp_path / ".hidden").write_text("junk\n")
    assert executor.match_input_files(str(tmp_path / "*")) == [str(tmp_path / "a.tsv"), str(tmp_path / "b.tsv")]
    assert len(_run(str(tmp_path / "*"), str(tmp_path / "r"))) == 2


def test_no_matching_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No input file matches"):
        executor.match_input_files(str(tmp_path / "nothing-*.tsv"))


def test_a_csv_with_a_wrong_header_is_unreadable_naming_the_file(tmp_path):
    """Reported in the summary (the executor then fails with it in one line), not raised in a worker."""
    path = tmp_path / "x.csv"
    path.write_text(",".join(HEADER[:-1] + ["C99"]) + "\n")
    assert _run(str(path), str(tmp_path / "r")) == []
    [message] = executor.load_summaries(str(tmp_path))["unreadable"]
    assert re.match(r".*x\.csv line 1: .*C99", message), message


def test_reader_streams_line_by_line(tmp_path):
    """A generator over the file: the first line is read before the rest exists in memory."""
    path = tmp_path / "big.tsv"
    path.write_text("".join("\t".join(_row("0", str(i))) + "\n" for i in range(1000)))
    (whole,) = executor.plan_ranges(str(path), "auto")
    lines = executor.read_range(whole)
    assert next(lines)[0] == 1
    assert sum(1 for _ in lines) == 999


def test_header_error_type_is_kept(tmp_path):
    path = tmp_path / "y.csv"
    path.write_text("0,1\n")
    with pytest.raises(HeaderError):
        executor.plan_ranges(str(path), "csv")


@pytest.mark.parametrize("range_bytes", [1, 7, 64, 1000, 10**9])
def test_ranges_read_every_line_once_with_its_number(tmp_path, range_bytes):
    """A file cut into ranges of about `range_bytes` (at line starts) reads as the whole file does:
    every data line once, numbered as in the file, the header skipped, CRLF and a last line without
    a newline kept as they are."""
    lines = [",".join(HEADER) + "\r\n"] + [",".join(_row("1" if i % 3 else "0", str(i))) + "\r\n" for i in range(40)]
    lines[-1] = lines[-1].rstrip("\r\n")
    path = tmp_path / "x.csv"
    path.write_bytes("".join(lines).encode())
    ranges = executor.plan_ranges(str(path), "auto", range_bytes)
    if range_bytes >= path.stat().st_size:
        assert len(ranges) == 1
    elif range_bytes < min(len(line) for line in lines):
        assert len(ranges) == len(lines)  # one range per line, the header's included
    else:
        assert 1 < len(ranges) < len(lines)
    read = [(number, raw) for r in ranges for number, raw in executor.read_range(r)]
    assert read == [(i + 1, line.encode()) for i, line in enumerate(lines)][1:]


def test_a_gzip_file_is_one_range_and_an_empty_file_none(tmp_path):
    path = tmp_path / "day_0"  # gzip by its bytes, not its name
    with gzip.open(path, "wt") as f:
        f.write("".join("\t".join(_row("0", str(i))) + "\n" for i in range(100)))
    (ranges,) = executor.plan_ranges(str(path), "auto", range_bytes=10)
    assert (ranges.start, ranges.end, ranges.first_line) == (0, -1, 1)
    assert [n for n, _ in executor.read_range(ranges)] == list(range(1, 101))
    (tmp_path / "empty.tsv").write_bytes(b"")
    assert executor.plan_ranges(str(tmp_path / "empty.tsv"), "auto") == []


def test_a_single_file_is_shared_among_workers(tmp_path, monkeypatch):
    """By default a file gets MIN_RANGES ranges once they can be MIN_RANGE_BYTES long, never more
    than RANGE_BYTES long."""
    monkeypatch.setattr(executor, "MIN_RANGE_BYTES", 1000)
    monkeypatch.setattr(executor, "RANGE_BYTES", 4000)
    path = tmp_path / "x.tsv"
    line = "\t".join(_row("0", "1")) + "\n"
    for size, expected in ((900, 1), (20_000, executor.MIN_RANGES), (200_000, 200_000 // 4000)):
        path.write_text(line * (size // len(line)))
        ranges = executor.plan_ranges(str(path), "auto")
        assert abs(len(ranges) - expected) <= 1, (size, len(ranges))
