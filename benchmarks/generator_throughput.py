"""Throughput of `sparsectr generate`, as ratios measured in one run.

- against the target of the issue: 1M rows per minute on 2 cores;
- against a physical ceiling: writing the same bytes to the same disk
  (what a generator that cost nothing would still pay).

Usage: .venv/bin/python benchmarks/generator_throughput.py [--rows 2000000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from synthetic import generator

TARGET_ROWS_PER_MINUTE = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--positive-rate", type=float, default=0.03)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generator.calibrated_bias(args.positive_rate)  # the one-off calibration is not per-row work
        result = generator.generate_to_path(args.rows, args.positive_rate, 0, os.path.join(tmp, "g.tsv"))
        size = os.path.getsize(result["files"][0])
        started = time.monotonic()
        with open(result["files"][0], "rb") as src, open(os.path.join(tmp, "copy.tsv"), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 24)
            dst.flush()
            os.fsync(dst.fileno())
        ceiling = time.monotonic() - started
    per_minute = result["rows"] / result["seconds"] * 60
    print(f"rows: {result['rows']:,}  bytes: {size:,}  cores: {os.cpu_count()}")
    print(f"generate: {result['seconds']:.2f} s = {per_minute:,.0f} rows/min")
    print(f"ratio to target (1M rows/min): {per_minute / TARGET_ROWS_PER_MINUTE:.1f}x")
    print(f"copy of the same bytes (I/O ceiling): {ceiling:.2f} s; generate / copy = {result['seconds'] / ceiling:.1f}x")


if __name__ == "__main__":
    main()
