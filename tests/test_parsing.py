"""Row parsing: every format variant and every bad-row kind."""
import pytest

from models.criteo_rows import (
    STANDARD_TSV,
    HeaderError,
    Layout,
    RejectReason,
    RowError,
    decode_line,
    detect_layout,
    parse_integer,
    parse_line,
    read_rows,
)
from models import features

HEADER = ["label"] + list(features.FEATURE_KEYS)


def tsv(label="1", ints=None, cats=None) -> str:
    ints = ints if ints is not None else [str(i) for i in range(13)]
    cats = cats if cats is not None else [f"{i:08x}" for i in range(26)]
    return "\t".join([label] + ints + cats)


def test_headerless_tsv_is_detected_and_parsed():
    line = tsv()
    layout = detect_layout(line)
    assert layout == STANDARD_TSV and not layout.has_header
    row = parse_line(line, layout)
    assert row["label"] == 1 and row["I13"] == 12 and row["C26"] == b"00000019"
    assert len(row) == 40


def test_missing_values_are_absent_not_zero_or_empty():
    ints = [""] * 13
    ints[1] = "-2"
    cats = [""] * 26
    cats[0] = "68fd1e64"
    row = parse_line(tsv("0", ints, cats), STANDARD_TSV)
    assert row == {"label": 0, "I2": -2, "C1": b"68fd1e64"}


@pytest.mark.parametrize("label_name", ["label", "Label"])
def test_csv_with_header_maps_columns_by_name(label_name):
    header = ",".join([label_name] + list(features.FEATURE_KEYS))
    layout = detect_layout(header)
    assert layout.has_header and layout.delimiter == ","
    row = parse_line(",".join(["1"] + ["5"] * 13 + ["abcdef01"] * 26), layout)
    assert row["label"] == 1 and row["I1"] == 5 and row["C1"] == b"abcdef01"


def test_kaggle_competition_csv_drops_id_and_reorders():
    names = ["Id", "Label"] + list(reversed(features.FEATURE_KEYS))
    layout = detect_layout(",".join(names))
    values = ["10000743", "0"] + [f"{i:08x}" for i in range(26)][::-1] + [str(i) for i in range(13)][::-1]
    row = parse_line(",".join(values), layout)
    assert "Id" not in row and row["label"] == 0
    assert row["I1"] == 0 and row["I13"] == 12 and row["C1"] == b"00000000" and row["C26"] == b"00000019"


def test_layout_survives_its_token():
    layout = detect_layout(",".join(["Id", "Label"] + list(features.FEATURE_KEYS)))
    assert Layout.from_token(layout.token()) == layout
    assert Layout.from_token(STANDARD_TSV.token()) == STANDARD_TSV


@pytest.mark.parametrize("text,value", [("260.0", 260), ("-1", -1), ("0", 0), ("7.000", 7), ("1e3", 1000),
                                        ("9223372036854775807", 2**63 - 1)])
def test_integral_numbers_are_read_exactly(text, value):
    assert parse_integer(text) == value


@pytest.mark.parametrize("text,reason", [
    ("2.5", RejectReason.NON_INTEGRAL_NUMBER), ("abc", RejectReason.NOT_AN_INTEGER),
    (" 7", RejectReason.NOT_AN_INTEGER), ("1_000", RejectReason.NOT_AN_INTEGER),
    ("nan", RejectReason.NOT_AN_INTEGER), ("9223372036854775808", RejectReason.INTEGER_OUT_OF_RANGE),
    ("-9223372036854775809", RejectReason.INTEGER_OUT_OF_RANGE), ("1e400", RejectReason.INTEGER_OUT_OF_RANGE),
    ("1e999999999", RejectReason.INTEGER_OUT_OF_RANGE), ("1e-999999999", RejectReason.NON_INTEGRAL_NUMBER),
    ("1" * 1_000_000, RejectReason.FIELD_TOO_LONG), ("\u0663", RejectReason.NOT_AN_INTEGER),
    ("1\u0663", RejectReason.NOT_AN_INTEGER), ("inf", RejectReason.NOT_AN_INTEGER),
])
def test_bad_integers_are_rejected_with_a_reason(text, reason):
    with pytest.raises(RowError) as e:
        parse_integer(text)
    assert e.value.reason == reason


def test_crlf_line_ends_are_stripped():
    assert decode_line(b"0\t1\r\n") == "0\t1"
    assert decode_line(b"0\t1\n") == "0\t1"
    assert decode_line(b"0\t1") == "0\t1"


@pytest.mark.parametrize("line,reason,detail", [
    ("\t".join(["0"] * 39), RejectReason.WRONG_COLUMN_COUNT, "39 columns"),
    (tsv(ints=["x"] + ["1"] * 12), RejectReason.NOT_AN_INTEGER, "I1="),
    (tsv(ints=["1"] * 12 + ["2.5"]), RejectReason.NON_INTEGRAL_NUMBER, "I13="),
    (tsv(label="2"), RejectReason.BAD_LABEL, "label='2'"),
    (tsv(label=""), RejectReason.BAD_LABEL, "label=''"),
    (tsv(label="0.5"), RejectReason.BAD_LABEL, ""),
    ("", RejectReason.EMPTY_LINE, ""),
    ("   ", RejectReason.EMPTY_LINE, ""),
    ("\t".join(HEADER), RejectReason.HEADER_IN_MIDDLE, ""),
    (",".join(HEADER), RejectReason.HEADER_IN_MIDDLE, ""),
])
def test_bad_rows_are_rejected_with_reason_and_field(line, reason, detail):
    with pytest.raises(RowError) as e:
        parse_line(line, STANDARD_TSV)
    assert e.value.reason == reason
    assert detail in e.value.detail


def test_undecodable_bytes_are_rejected():
    with pytest.raises(RowError) as e:
        decode_line(b"0\t\xff\xfe\n")
    assert e.value.reason == RejectReason.UNDECODABLE_BYTES


def test_label_written_as_integral_float_is_accepted():
    assert parse_line(tsv(label="1.0"), STANDARD_TSV)["label"] == 1


def test_header_problems_name_the_file_and_columns():
    with pytest.raises(HeaderError, match=r"data\.csv line 1: .*unknown columns \['I99'\]"):
        detect_layout(",".join(HEADER[:-1] + ["I99"]), source="data.csv")
    with pytest.raises(HeaderError, match=r"missing columns \['C26'\]"):
        detect_layout(",".join(HEADER[:-1]))
    with pytest.raises(HeaderError, match="expected a header"):
        detect_layout(",".join(["0"] * 40), fmt="csv")


def test_explicit_formats():
    assert detect_layout(tsv(), fmt="tsv") == STANDARD_TSV
    assert detect_layout(",".join(HEADER), fmt="csv").delimiter == ","
    with pytest.raises(ValueError, match="format must be one of"):
        detect_layout(tsv(), fmt="parquet")


def test_read_rows_stops_after_limit_rows_past_the_header(tmp_path):
    lines = [tsv(label=str(i % 2), ints=[str(i)] + [""] * 12) for i in range(7)]
    headed = tmp_path / "rows.csv"
    headed.write_text(",".join(HEADER) + "\n" + "\n".join(line.replace("\t", ",") for line in lines) + "\n")
    rows = read_rows(str(headed), limit=3)
    assert [(r["label"], r["I1"]) for r in rows] == [(0, 0), (1, 1), (0, 2)]
    assert len(read_rows(str(headed))) == 7 and len(read_rows(str(headed), limit=100)) == 7
