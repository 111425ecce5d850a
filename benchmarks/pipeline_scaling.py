"""How the pipeline's time and memory grow with rows: wall time, peak memory and rows/s of every
component on generated data of each size, and a plot.

Each size runs in a fresh process: generate the rows (not counted), then `sparsectr experiment`'s
DAG (CriteoExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator, ValidationGate,
Transform, Trainer, Evaluator) with the LocalDagRunner and the default Beam flags (DirectRunner,
one worker process per core). The Trainer trains one epoch: its rate per epoch is what scales;
the default run's ten epochs are ten times its epoch part. A component's time is its ML Metadata
execution's (registered -> published); its memory is the peak RSS summed over this process and
every child (Beam's workers), sampled every 0.2 s while it ran.

Rows a component handles: ExampleGen, StatisticsGen and Transform every row (Transform analyses
the train split and transforms all three); the Trainer the train split (one epoch, plus its
counting pass over it); the Evaluator the test split.

Results are kept per size in OUT/<rows>/result.json (a re-run skips finished sizes), then the
table (Markdown) is printed and the plot written.

Usage: .venv/bin/python benchmarks/pipeline_scaling.py [--rows 200000,1000000,4000000]
       [--out /tmp/sparsectr-scaling] [--plot docs/figures/pipeline_scaling.png]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSITIVE_RATE = 0.03
NODES = ("CriteoExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator")
# Ingest, statistics and Transform: the rate targets on 2 cores (rows/s).
TARGETS = {"CriteoExampleGen": 30_000, "StatisticsGen": 30_000, "Transform": 20_000, "Evaluator": 20_000}


class MemorySampler(threading.Thread):
    """(time, RSS of this process and all its descendants) every `interval` seconds."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self._root = psutil.Process()
        self._interval = interval
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        import psutil

        while not self._done.is_set():
            total = 0
            for process in [self._root] + self._root.children(recursive=True):
                try:
                    total += process.memory_info().rss
                except psutil.Error:  # exited between listing and reading
                    pass
            self.samples.append((time.time(), total))
            self._done.wait(self._interval)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def _child(rows: int, out: str) -> dict:
    import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
    from models.hparams import ModelConfig
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import create_experiment_pipeline
    from synthetic import generator
    from sparsectr.run import run_pipeline
    from pipeline.run_result import RunOutputs, execution_mark, open_store

    data = os.path.join(out, "data", "generated.tsv")
    if not os.path.exists(data):
        generator.generate_to_path(rows, POSITIVE_RATE, seed=0, out=data)
    config = PipelineConfig(data=data, output_dir=os.path.join(out, "pipeline"), model=ModelConfig(epochs=1),
                            enable_cache=False)
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    sampler = MemorySampler()
    sampler.start()
    started = time.time()
    run_pipeline(config, factory=create_experiment_pipeline)
    total = time.time() - started
    sampler.stop()
    outputs = RunOutputs.since(store, mark, config.pipeline_root)
    splits = {s: int(v) for s, v in _example_counts(outputs).items()}
    handled = {"CriteoExampleGen": rows, "StatisticsGen": rows, "Transform": rows,
               "Trainer": splits["train"], "Evaluator": splits["test"]}
    result = {"rows": rows, "splits": splits, "total_seconds": total, "baseline_rss": sampler.samples[0][1],
              "components": {}}
    for node in NODES:
        execution = outputs.executions[node]
        start, end = execution.create_time_since_epoch / 1000, execution.last_update_time_since_epoch / 1000
        result["components"][node] = {"seconds": end - start, "rows": handled[node],
                                      "rows_per_second": handled[node] / (end - start),
                                      "peak_rss": sampler.peak(start, end)}
    return result


def _example_counts(outputs) -> dict[str, int]:
    """Rows per split, from StatisticsGen's output."""
    from components.validation_gate.executor import split_counts

    return {split: c["examples"] for split, c in split_counts(outputs.uri("StatisticsGen", "statistics")).items()}


def _run_size(rows: int, out: str) -> dict:
    directory = os.path.join(out, str(rows))
    path = os.path.join(directory, "result.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    os.makedirs(directory, exist_ok=True)
    print(f"{rows:,} rows ...", file=sys.stderr, flush=True)
    log = os.path.join(directory, "run.log")
    with open(log, "w") as f:
        code = subprocess.call([sys.executable, __file__, "--child", str(rows), "--out", directory], cwd=PROJECT,
                               stdout=f, stderr=subprocess.STDOUT)
    if code:
        raise SystemExit(f"the {rows:,}-row run failed (exit {code}); its log: {log}")
    with open(path) as f:
        return json.load(f)


def format_table(results: list[dict]) -> str:
    lines = ["| rows | component | rows handled | wall time (s) | rows/s | target | peak RSS (GiB) |",
             "|---|---|---|---|---|---|---|"]
    for result in results:
        for node in NODES:
            c = result["components"][node]
            target = f"{TARGETS[node]:,}" if node in TARGETS else "-"
            lines.append(f"| {result['rows']:,} | {node} | {c['rows']:,} | {c['seconds']:.1f} | "
                         f"{c['rows_per_second']:,.0f} | {target} | {c['peak_rss'] / 2**30:.2f} |")
        lines.append(f"| {result['rows']:,} | whole run | | {result['total_seconds']:.1f} | | | |")
    return "\n".join(lines)


def plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r["rows"] for r in results]
    fig, (ax_time, ax_memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for node in NODES:
        ax_time.plot(rows, [r["components"][node]["seconds"] for r in results], "o-", label=node)
        ax_memory.plot(rows, [r["components"][node]["peak_rss"] / 2**30 for r in results], "o-", label=node)
    ax_time.set(xscale="log", yscale="log", xlabel="rows generated", ylabel="wall time (s)",
                title="time per component (log-log; slope 1 = linear)")
    ax_memory.set(xscale="log", xlabel="rows generated", ylabel="peak RSS, process tree (GiB)",
                  title="peak memory per component")
    ax_memory.set_ylim(bottom=0)
    ax_time.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="200000,1000000,4000000", help="comma-separated sizes")
    parser.add_argument("--out", default="/tmp/sparsectr-scaling")
    parser.add_argument("--plot", default=os.path.join(PROJECT, "docs", "figures", "pipeline_scaling.png"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, PROJECT)
        result = _child(args.child, args.out)
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
        return
    results = [_run_size(int(n), args.out) for n in args.rows.split(",")]
    print(format_table(results))
    plot(results, args.plot)
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
