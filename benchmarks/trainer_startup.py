"""What tracing without AutoGraph saves the Trainers, as a ratio in one run.

Keras builds a functional model, traces its training and evaluation steps, and
the export traces the serving signatures; by default AutoGraph first parses and
rewrites the Python source of every layer, loss, metric and optimizer method
reached. The product builds and traces with AutoGraph off (models/dcn.py,
models/trainer.py). This benchmark measures the Trainer and BaselineTrainer
components of the real pipeline both ways, each in a fresh process (AutoGraph
caches its conversions per process, as a Trainer run would start cold):

1. a first run fills the cache up to Transform (not timed);
2. `autograph`: a re-run with another seed (so only the Trainers and what
   follows re-run), with AutoGraph switched back on everywhere;
3. `product`: the same with the next seed, as shipped.

The Evaluators run the same way in both and serve as the control. The ratio
is `autograph` time over `product` time.

Usage: .venv/bin/python benchmarks/trainer_startup.py [--rows 20000] [--out /tmp/sparsectr-trainer-startup]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODES = ("Trainer", "BaselineTrainer", "Evaluator")
OUTPUTS = {"Trainer": "model", "BaselineTrainer": "model", "Evaluator": "evaluation"}


def _switch_autograph_back_on() -> None:
    """Undoes the product's choice before its modules load: every tf.function traced with
    AutoGraph, and do_not_convert a no-op."""
    import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
    import tensorflow as tf

    function = tf.function

    def with_autograph(func=None, **kwargs):
        kwargs["autograph"] = True
        return function(func, **kwargs) if func is not None else function(**kwargs)

    tf.function = with_autograph
    tf.autograph.experimental.do_not_convert = lambda func=None: func


def _child(variant: str, data: str, out: str, seed: int) -> None:
    if variant == "autograph":
        _switch_autograph_back_on()
    from pipeline.config import PipelineConfig
    from models.hparams import ModelConfig
    from sparsectr.run import run
    from pipeline.run_result import RunOutputs, execution_mark, open_store

    config = PipelineConfig(data=data, output_dir=out, model=ModelConfig(seed=seed, epochs=2))
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    summary = run(config)
    if not summary["ok"]:
        raise SystemExit(f"{variant} run failed: {summary['error']}")
    outputs = RunOutputs.since(store, mark, config.pipeline_root)
    print(json.dumps({node: outputs.producer_seconds(node, OUTPUTS[node]) for node in NODES}))


def _run(variant: str, data: str, out: str, seed: int) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", variant, "--data", data, "--out", out,
                             "--seed", str(seed)], cwd=PROJECT, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"the {variant} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", default="/tmp/sparsectr-trainer-startup")
    parser.add_argument("--child", choices=("product", "autograph"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.data, args.out, args.seed)
        return
    sys.path.insert(0, PROJECT)
    from synthetic import generator

    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    data = os.path.join(args.out, "generated.tsv")
    generator.generate_to_path(args.rows, 0.03, seed=0, out=data)
    pipeline = os.path.join(args.out, "pipeline")
    _run("product", data, pipeline, seed=1)  # fills the cache up to Transform
    seconds = {variant: _run(variant, data, pipeline, seed) for variant, seed in (("autograph", 2), ("product", 3))}
    print(f"{args.rows:,} generated rows, 2 epochs; component wall time (s), each run in a fresh process\n")
    print("| component | AutoGraph on | as shipped (off) | ratio |")
    print("|---|---|---|---|")
    for node in NODES:
        on, off = seconds["autograph"][node], seconds["product"][node]
        print(f"| {node} | {on:.1f} | {off:.1f} | {on / off:.2f}x |")


if __name__ == "__main__":
    main()
