"""What Criteo 1TB would take, from the per-row costs benchmarks/pipeline_scaling.py measured.

Each component's cost is the slope of its wall time between the two largest measured sizes
(the fixed start-up cost drops out), times the cores it ran on: CPU-seconds per row. Beam
components scale out over the workers of a Beam runner; the Trainer over tf.distribute
workers, all-reducing its gradients every step.

Assumptions, all flags: Beam workers of `--cores` vCPUs as fast as this machine's cores, at
`--parallel-efficiency` of ideal (shuffles, stragglers, start-up); trainer workers of the same
size at `--trainer-efficiency` of ideal (the all-reduce of the embedding gradients is not
measured here: both local workers shared one machine); Dataflow batch list prices per vCPU-hour
and GB-hour of `--vcpu-price` and `--gb-price` (us-central1, 2024), 4 GB per vCPU; Criteo 1TB:
4,373,472,329 rows (24 days), trained on 23 days, evaluated on the last.

Usage: .venv/bin/python benchmarks/cost_model.py [--results /tmp/sparsectr-scaling] [--workers 16,64]
       [--trainer-workers 1,8,32] [--epochs 1]
"""
from __future__ import annotations

import argparse
import glob
import json
import os

CRITEO_1TB_ROWS = 4_373_472_329
TRAIN_SHARE = 23 / 24
BEAM_NODES = ("CriteoExampleGen", "StatisticsGen", "Transform", "Evaluator")
GB_PER_VCPU = 4


def per_row_costs(results: list[dict], cores: int) -> dict[str, float]:
    """CPU-seconds per handled row of each component: the slope between the two largest sizes."""
    small, large = sorted(results, key=lambda r: r["rows"])[-2:]
    costs = {}
    for node in BEAM_NODES + ("Trainer",):
        a, b = small["components"][node], large["components"][node]
        costs[node] = (b["seconds"] - a["seconds"]) / (b["rows"] - a["rows"]) * cores
    return costs


def rows_handled(node: str) -> float:
    """Rows of Criteo 1TB a component handles: every row, the training days, or the test day."""
    if node == "Trainer":
        return CRITEO_1TB_ROWS * TRAIN_SHARE
    if node == "Evaluator":
        return CRITEO_1TB_ROWS * (1 - TRAIN_SHARE)
    return CRITEO_1TB_ROWS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="/tmp/sparsectr-scaling")
    parser.add_argument("--machine-cores", type=int, default=2, help="cores of the measuring machine")
    parser.add_argument("--cores", type=int, default=4, help="vCPUs per Beam or trainer worker")
    parser.add_argument("--workers", default="16,64")
    parser.add_argument("--trainer-workers", default="1,8,32")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--parallel-efficiency", type=float, default=0.7)
    parser.add_argument("--trainer-efficiency", type=float, default=0.7)
    parser.add_argument("--vcpu-price", type=float, default=0.056)
    parser.add_argument("--gb-price", type=float, default=0.003557)
    args = parser.parse_args()
    results = []
    for path in glob.glob(os.path.join(args.results, "*", "result.json")):
        with open(path) as f:
            results.append(json.load(f))
    if len(results) < 2:
        raise SystemExit(f"{args.results}: need the results of two sizes of benchmarks/pipeline_scaling.py")
    costs = per_row_costs(results, args.machine_cores)
    sizes = ", ".join(f"{r['rows']:,}" for r in sorted(results, key=lambda r: r["rows"]))
    print(f"per-row costs from the slope between the two largest of {sizes} rows\n")
    worker_price = args.cores * (args.vcpu_price + GB_PER_VCPU * args.gb_price)
    beam_workers = [int(n) for n in args.workers.split(",")]
    header = " | ".join(f"hours on {n} x {args.cores} vCPU" for n in beam_workers)
    print(f"| component | CPU-ms per row | rows of Criteo 1TB | CPU-hours | {header} | cost (USD) |")
    print("|---|---|---|---|" + "---|" * len(beam_workers) + "---|")
    for node in BEAM_NODES:
        rows = rows_handled(node)
        cpu_hours = costs[node] * rows / 3600
        hours = [cpu_hours / (n * args.cores * args.parallel_efficiency) for n in beam_workers]
        cost = cpu_hours / args.parallel_efficiency / args.cores * worker_price
        print(f"| {node} | {costs[node] * 1000:.3f} | {rows:,.0f} | {cpu_hours:,.0f} | "
              + " | ".join(f"{h:,.1f}" for h in hours) + f" | {cost:,.0f} |")
    trainer_workers = [int(n) for n in args.trainer_workers.split(",")]
    rows = rows_handled("Trainer") * args.epochs
    cpu_hours = costs["Trainer"] * rows / 3600
    print(f"\nTrainer: {costs['Trainer'] * 1000:.3f} CPU-ms per example (one epoch incl. its counting pass and "
          f"validation), {args.epochs} epoch(s) of {rows_handled('Trainer'):,.0f} rows = {cpu_hours:,.0f} CPU-hours")
    print("\n| trainer workers | hours | cost (USD) |\n|---|---|---|")
    for n in trainer_workers:
        efficiency = 1.0 if n == 1 else args.trainer_efficiency
        hours = cpu_hours / (n * args.cores * efficiency)
        print(f"| {n} x {args.cores} vCPU | {hours:,.1f} | {hours * n * worker_price:,.0f} |")


if __name__ == "__main__":
    main()
