"""Where each component's time goes: py-spy samples of a benchmarks/pipeline_scaling.py run.

Runs the pipeline on ROWS generated rows (as pipeline_scaling.py does, in OUT), and every
`--every` seconds samples this run's processes (the pipeline and Beam's worker processes) for
`--seconds` seconds with py-spy, tagging the samples with the component then running (the newest
directory of the pipeline root). Then prints, per component, the share of samples in each
category of CATEGORIES (the first whose pattern is in the stack wins).

Needs py-spy (not a project dependency): `pip install py-spy` anywhere, and `--py-spy PATH`.

Usage: .venv/bin/python benchmarks/profile_components.py --rows 1000000 --out /tmp/sparsectr-profile
       --py-spy /usr/local/bin/py-spy
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import subprocess
import sys
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDLE = ("Condition.wait", "channel_spin", "_serve (grpc")
CATEGORIES = {
    "CriteoExampleGen": {"build tf.Examples": ("row_to_example",), "parse rows": ("parse_line", "decode_line"),
                         "gzip TFRecord write": ("CompressedFile.write", "_TFRecordSink", "crcmod"),
                         "read lines": ("read_range",), "split by hash (TFX)": ("_PartitionFn",)},
    "StatisticsGen": {"decode tf.Examples to Arrow (tfx_bsl)": ("ExamplesToRecordBatchDecoder",),
                      "TFDV top-k and uniques": ("top_k_uniques",),
                      "TFDV other statistics": ("tensorflow_data_validation",),
                      "read TFRecords": ("_TFRecordSource", "_fetch_to_internal", "tfrecordio")},
    "Transform": {"decode tf.Examples to Arrow (tfx_bsl)": ("ExamplesToRecordBatchDecoder",),
                  "Arrow to tensors and the TF graph": ("_RunMetaGraphDoFn",),
                  "encode and write gzip TFRecords": ("RecordBatchToExamplesEncoder", "_TFRecordSink",
                                                      "CompressedFile.write"),
                  "read TFRecords": ("_TFRecordSource", "_fetch_to_internal"),
                  "pipeline construction": ("to_runner_api", "translations"),
                  "analyzer combiners": ("tensorflow_transform/beam/analyzer", "analyzer_impls")},
    "Evaluator": {"TFMA metric combiners, per example": ("_ComputationsCombineFn",),
                  "TFMA unbatching into per-example dicts": ("split_extracts", "unbatch_extractor"),
                  "model inference": ("ModelSignaturesDoFn", "BatchReducibleBatchedDoFnWithModels"),
                  "TFMA slicing": ("slice_util", "slicer"),
                  "decode tf.Examples (tfx_bsl)": ("ExamplesToRecordBatchDecoder",)},
}


def _processes(child: int) -> list[int]:
    import psutil

    try:
        return [child] + [p.pid for p in psutil.Process(child).children(recursive=True)]
    except psutil.Error:
        return []


def _running_component(root: str) -> str:
    directories = [d for d in glob.glob(os.path.join(root, "*")) if os.path.isdir(d)]
    return os.path.basename(max(directories, key=os.path.getmtime)) if directories else ""


def sample(rows: int, out: str, py_spy: str, every: float, seconds: float) -> str:
    samples = os.path.join(out, "samples")
    os.makedirs(samples, exist_ok=True)
    child = subprocess.Popen([sys.executable, os.path.join(PROJECT, "benchmarks", "pipeline_scaling.py"),
                              "--child", str(rows), "--out", out], cwd=PROJECT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = os.path.join(out, "pipeline", "pipeline_root")
    while child.poll() is None:
        component, stamp = _running_component(root), int(time.time())
        recorders = [subprocess.Popen([py_spy, "record", "-d", str(int(seconds)), "-r", "40", "-p", str(pid), "-f",
                                       "raw", "--nonblocking", "-o",
                                       os.path.join(samples, f"{component}_{stamp}_{pid}.txt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for pid in _processes(child.pid)]
        for recorder in recorders:
            recorder.wait()
        time.sleep(max(every - seconds, 0))
    if child.returncode:
        raise SystemExit(f"the pipeline run failed (exit {child.returncode})")
    return samples


def shares(paths: list[str], categories: dict[str, tuple[str, ...]]) -> dict[str, float]:
    counts: collections.Counter = collections.Counter()
    for path in paths:
        with open(path) as f:
            for line in f:
                stack, _, n = line.rstrip().rpartition(" ")
                name = next((c for c, patterns in categories.items() if any(p in stack for p in patterns)),
                            "idle (waiting for work)" if any(p in stack for p in IDLE) else "Beam and the rest")
                counts[name] += int(n)
    total = sum(counts.values()) or 1
    return {name: n / total for name, n in counts.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="/tmp/sparsectr-profile")
    parser.add_argument("--py-spy", default="py-spy")
    parser.add_argument("--every", type=float, default=40)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--samples", help="summarise the samples in this directory instead of running")
    args = parser.parse_args()
    samples = args.samples or sample(args.rows, args.out, args.py_spy, args.every, args.seconds)
    for component, categories in CATEGORIES.items():
        paths = glob.glob(os.path.join(samples, f"{component}_*.txt"))
        if not paths:
            continue
        print(f"\n{component} ({len(paths)} process samples of {args.seconds:g} s)")
        for name, share in shares(paths, categories).items():
            print(f"  {share:6.1%}  {name}")


if __name__ == "__main__":
    main()
