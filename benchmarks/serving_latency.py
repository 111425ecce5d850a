"""Latency of the pushed model, in process: p50/p99 per request and throughput of its two serving
signatures at batch 1, 32 and 256, and the cost of building the REST and gRPC requests
sparsectr/serving_client.py sends.

- serving_default: serialized tf.Examples (what TF Serving's clients send); the model parses them,
  applies Transform's graph and the DCN-V2.
- predict_raw: one string tensor per Criteo column (the JSON clients' signature).
- requests: the client's side of one call, from parsed rows to bytes on the wire: serialized
  tf.Examples, then the REST JSON body (base64) or the gRPC PredictRequest, serialized.

A request is timed from the call to the answer as NumPy, one at a time (no concurrency), after
`--warmup` untimed calls; every request takes the next rows of the file. TF Serving runs the same
graph from C++; what is not measured here is its HTTP/gRPC server and the network.

RUN_DIR is a `sparsectr run` output directory: the newest pushed version under
RUN_DIR/serving_model/sparsectr is loaded. Rows come from `--data` (default: the default run's
generated file under RUN_DIR/data).

Usage: .venv/bin/python benchmarks/serving_latency.py RUN_DIR [--data FILE] [--requests 300]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Callable, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from sparsectr.progress import quiet_environment  # noqa: E402

quiet_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from models.criteo_rows import read_rows  # noqa: E402
from models.serving_contract import (PROBABILITY_KEY, RAW_SIGNATURE, SERVING_SIGNATURE, EXAMPLES_INPUT,  # noqa: E402
                                     raw_columns, serialized_examples)
from pipeline.config import PipelineConfig  # noqa: E402
from sparsectr import serving_client  # noqa: E402
from sparsectr.run import default_dataset_path  # noqa: E402

BATCHES = (1, 32, 256)
GOALS_MS = {1: 5.0, 256: 50.0}  # p99 goals by batch size


def latest_version(run_dir: str) -> str:
    root = PipelineConfig(data="", output_dir=run_dir).serving_dir
    versions = [d for d in os.listdir(root) if d.isdigit()] if os.path.isdir(root) else []
    if not versions:
        raise SystemExit(f"{root}: no pushed model version; run `sparsectr run --output {run_dir}` first")
    return os.path.join(root, max(versions, key=int))


def time_calls(call: Callable[[int], object], requests: int, warmup: int) -> np.ndarray:
    """Seconds of each of `requests` calls call(i), after `warmup` untimed ones."""
    for i in range(warmup):
        call(i)
    seconds = np.empty(requests)
    for i in range(requests):
        started = time.perf_counter()
        call(warmup + i)
        seconds[i] = time.perf_counter() - started
    return seconds


def _batches(items: Sequence, size: int, count: int) -> list:
    """`count` consecutive batches of `size` items, wrapping around."""
    return [[items[(i * size + j) % len(items)] for j in range(size)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--data", help="raw Criteo rows (default: the default run's generated file)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per signature and batch size")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    data = args.data or default_dataset_path(args.run_dir)
    version = latest_version(args.run_dir)
    model = tf.saved_model.load(version)
    signatures = {SERVING_SIGNATURE: model.signatures[SERVING_SIGNATURE], RAW_SIGNATURE: model.signatures[RAW_SIGNATURE]}
    rows = read_rows(data, strict=True, limit=4096)
    print(f"model {version}; rows from {data}; {args.requests} timed requests each after {args.warmup} warm-up; "
          f"TensorFlow {tf.__version__}, {os.cpu_count()} cores, intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}\n")
    print("| what | batch | p50 ms | p99 ms | examples/s | goal (p99) |\n|---|---|---|---|---|---|")
    results = {}
    for batch in BATCHES:
        count = args.requests + args.warmup
        row_batches = _batches(rows, batch, count)
        examples = [tf.constant(serialized_examples(b)) for b in row_batches]
        raw = [{k: tf.constant(v) for k, v in raw_columns(b).items()} for b in row_batches]
        calls = {
            SERVING_SIGNATURE: lambda i: signatures[SERVING_SIGNATURE](**{EXAMPLES_INPUT: examples[i]})[
                PROBABILITY_KEY].numpy(),
            RAW_SIGNATURE: lambda i: signatures[RAW_SIGNATURE](**raw[i])[PROBABILITY_KEY].numpy(),
            "REST request (rows -> JSON bytes)": lambda i: json.dumps(
                serving_client.rest_body(serialized_examples(row_batches[i]))).encode(),
            "gRPC request (rows -> PredictRequest bytes)": lambda i: serving_client.grpc_request(
                serialized_examples(row_batches[i]), PipelineConfig.model_name).SerializeToString(),
        }
        for name, call in calls.items():
            seconds = time_calls(call, args.requests, args.warmup)
            p50, p99 = np.percentile(seconds, [50, 99]) * 1e3
            results[(name, batch)] = p99
            goal = GOALS_MS.get(batch) if name in signatures else None
            verdict = f"<= {goal:g} ms: {'met' if p99 <= goal else 'not met'}" if goal else ""
            print(f"| {name} | {batch} | {p50:.2f} | {p99:.2f} | {batch / seconds.mean():,.0f} | {verdict} |",
                  flush=True)


if __name__ == "__main__":
    main()
