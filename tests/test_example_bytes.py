"""The hand-built tf.Example bytes of CriteoExampleGen equal protobuf's deterministic serialization."""
from __future__ import annotations

import pytest

from models import features
from models.criteo_rows import STANDARD_TSV, decode_line, parse_line
from models.example_bytes import serialize_row
from models.serving_contract import row_to_example


def _protobuf(row) -> bytes:
    return row_to_example(row).SerializeToString(deterministic=True)


def test_real_rows_serialize_to_protobufs_bytes(criteo_dir):
    with open(criteo_dir / "kaggle_train_head10k.tsv", "rb") as f:
        rows = [parse_line(decode_line(line), STANDARD_TSV) for line in f.readlines()[:3000]]
    assert any(len(r) < len(features.RAW_COLUMNS) for r in rows)  # missing features among them
    assert all(serialize_row(r) == _protobuf(r) for r in rows)


@pytest.mark.parametrize("row", [
    {},
    {"label": 1},
    {"I1": -1, "I2": -(2**63), "I3": 2**63 - 1, "I4": 127, "I5": 128, "I6": 300, "label": 0},
    {"C1": b"", "C10": b"x" * 200, "C2": bytes(range(256)), "I10": 0, "I1": 5},
    {name: (b"abcdef12" if name.startswith("C") else 7) for name in features.RAW_COLUMNS},
])
def test_edge_values_serialize_to_protobufs_bytes(row):
    assert serialize_row(row) == _protobuf(row)
