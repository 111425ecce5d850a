"""CriteoExampleGen's tf.Example bytes built directly against protobuf, as a ratio in one run.

Parses ROWS lines of the real Kaggle sample (tests/data/criteo), then times, each on the same
rows: protobuf (`row_to_example(row).SerializeToString(deterministic=True)`, models/serving_contract.py),
the direct encoder (models/example_bytes.py), and the parsing of the lines
(what every row costs before either). Checks that the bytes are identical.

Usage: .venv/bin/python benchmarks/example_bytes.py [--rows 10000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from models.criteo_rows import STANDARD_TSV, decode_line, open_local, parse_line  # noqa: E402
from models.example_bytes import serialize_row  # noqa: E402
from models.serving_contract import row_to_example  # noqa: E402

KAGGLE = os.path.join(PROJECT, "tests", "data", "criteo", "kaggle_train_head10k.tsv.gz")  # README there


def _best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with open_local(KAGGLE) as f:
        lines = f.readlines()[: args.rows]
    rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines]
    if any(serialize_row(r) != row_to_example(r).SerializeToString(deterministic=True) for r in rows):
        raise SystemExit("the direct bytes differ from protobuf's")
    protobuf = _best(lambda: [row_to_example(r).SerializeToString(deterministic=True) for r in rows], args.repeat)
    direct = _best(lambda: [serialize_row(r) for r in rows], args.repeat)
    parsing = _best(lambda: [parse_line(decode_line(line), STANDARD_TSV) for line in lines], args.repeat)
    print(f"{len(rows):,} real rows, best of {args.repeat}, microseconds per row\n")
    print("| step | us per row |\n|---|---|")
    print(f"| protobuf messages, serialized | {protobuf / len(rows) * 1e6:.1f} |")
    print(f"| direct bytes (the product) | {direct / len(rows) * 1e6:.1f} |")
    print(f"| parsing the line (for scale) | {parsing / len(rows) * 1e6:.1f} |")
    print(f"\nratio protobuf / direct: {protobuf / direct:.2f}x; identical bytes on every row")


if __name__ == "__main__":
    main()
