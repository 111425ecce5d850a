"""Transform in TF2 mode (preprocessing_fn traced as tf.functions) against TF1 compat mode (one TF1
graph), on the same rows: wall time of the Transform execution, and whether the two give the same
transformed examples and vocabularies. TF2 mode runs twice, to show how much two runs of one mode
differ.

Per size: generate the rows (not counted), then in a fresh process per run the data components
(the split is by hash: the same in every run) and Transform with the LocalDagRunner, default Beam
flags, cache off. The time is the Transform
execution's in ML Metadata (registered -> published). The outputs are compared record by record
(every split's transformed examples as a multiset of records) and file by file (the vocabularies).

Results go to OUT/<rows>/<mode>.json (a re-run skips finished runs); the summary, with the ratio
compat / TF2 per size, is written to --results (JSON, committed) and printed as a table.

Usage: .venv/bin/python benchmarks/transform_mode.py [--rows 10000,200000] [--out /tmp/sparsectr-transform-mode]
       [--results benchmarks/results/transform_mode.json]
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSITIVE_RATE = 0.03
MODES = {"tf2": False, "tf1_compat": True, "tf2_again": False}  # the last: how much a run of one mode varies


def _child(rows: int, data: str, out: str, compat: bool) -> dict:
    import models  # noqa: F401  (selects Keras 2 before TensorFlow loads)
    from tfx import v1 as tfx

    from pipeline.config import PipelineConfig
    from pipeline.pipeline import _pipeline, _transform_and_trainer, data_components
    from pipeline.run_result import RunOutputs, execution_mark, open_store

    config = PipelineConfig(data=data, output_dir=out, enable_cache=False)
    data_nodes = data_components(config)
    transform, _ = _transform_and_trainer(config, data_nodes, {})
    transform.exec_properties["force_tf_compat_v1"] = int(compat)
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    tfx.orchestration.LocalDagRunner().run(_pipeline(config, config.pipeline_name, data_nodes + [transform],
                                                     local_metadata=True))
    outputs = RunOutputs.since(store, mark, config.pipeline_root)
    execution = outputs.executions["Transform"]
    seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
    return {"rows": rows, "force_tf_compat_v1": compat, "seconds": seconds}


def transform_outputs(pipeline_root: str) -> tuple[collections.Counter, bytes]:
    """A Transform run's outputs: the multiset of its transformed examples (split, record) over every
    split (Beam's worker processes shard and order them differently from run to run), and the
    vocabulary files' names and bytes."""
    import tensorflow as tf

    transform = os.path.join(pipeline_root, "Transform")
    records = collections.Counter()
    for path in glob.glob(os.path.join(transform, "transformed_examples", "*", "Split-*", "*.gz")):
        split = os.path.basename(os.path.dirname(path))
        records.update((split, tf.train.Example.FromString(r).SerializeToString(deterministic=True))
                       for r in tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator())
    vocabularies = b""
    for path in sorted(glob.glob(os.path.join(transform, "transform_graph", "*", "transform_fn", "assets", "*"))):
        with open(path, "rb") as f:
            vocabularies += os.path.basename(path).encode() + b"\0" + f.read()
    return records, vocabularies


def _run(rows: int, mode: str, out: str) -> dict:
    directory = os.path.join(out, str(rows))
    path = os.path.join(directory, f"{mode}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    data = os.path.join(directory, "generated.tsv")
    if not os.path.exists(data):
        sys.path.insert(0, PROJECT)
        from synthetic import generator

        generator.generate_to_path(rows, POSITIVE_RATE, seed=0, out=data)
    print(f"{rows:,} rows, {mode} ...", file=sys.stderr, flush=True)
    log = os.path.join(directory, f"{mode}.log")
    with open(log, "w") as f:
        code = subprocess.call([sys.executable, __file__, "--child", str(rows), "--data", data, "--mode", mode,
                                "--out", os.path.join(directory, mode)], cwd=PROJECT, stdout=f, stderr=subprocess.STDOUT)
    if code:
        raise SystemExit(f"the {rows:,}-row {mode} run failed (exit {code}); its log: {log}")
    with open(os.path.join(directory, mode, "result.json")) as f:
        result = json.load(f)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    return result


def summarise(runs: dict[int, dict[str, dict]], out: str) -> list[dict]:
    """Per size: both modes' times and their ratio, and how many examples each run differs from the
    first TF2 run in (TFT's quantiles are approximate sketches merged in Beam's order, so a bucket
    boundary can move between two runs of the same mode)."""
    summary = []
    for rows, by in sorted(runs.items()):
        outputs = {mode: transform_outputs(os.path.join(out, str(rows), mode, "pipeline_root")) for mode in MODES}
        reference, vocabularies = outputs["tf2"]
        summary.append({"rows": rows, "tf2_seconds": by["tf2"]["seconds"],
                        "tf1_compat_seconds": by["tf1_compat"]["seconds"],
                        "tf2_again_seconds": by["tf2_again"]["seconds"],
                        "ratio": by["tf1_compat"]["seconds"] / by["tf2"]["seconds"],
                        "examples_differing_from_tf2": {mode: sum((records - reference).values())
                                                        for mode, (records, _) in outputs.items() if mode != "tf2"},
                        "same_vocabularies": all(v == vocabularies for _, v in outputs.values())})
    return summary


def format_table(summary: list[dict]) -> str:
    lines = ["| rows | Transform, TF2 mode (s) | TF1 compat (s) | compat / TF2 | TF2 again (s) | examples differing "
             "from the first TF2 run: TF1 compat | TF2 again | same vocabularies |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {s['rows']:,} | {s['tf2_seconds']:.1f} | {s['tf1_compat_seconds']:.1f} | {s['ratio']:.2f} | "
              f"{s['tf2_again_seconds']:.1f} | "
              f"{s['examples_differing_from_tf2']['tf1_compat']:,} | {s['examples_differing_from_tf2']['tf2_again']:,} | "
              f"{'yes' if s['same_vocabularies'] else 'NO'} |" for s in summary]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="10000,200000", help="comma-separated sizes")
    parser.add_argument("--out", default="/tmp/sparsectr-transform-mode")
    parser.add_argument("--results", default=os.path.join(PROJECT, "benchmarks", "results", "transform_mode.json"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, PROJECT)
        result = _child(args.child, args.data, args.out, MODES[args.mode])
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
        return
    runs = {int(n): {mode: _run(int(n), mode, args.out) for mode in MODES} for n in args.rows.split(",")}
    summary = summarise(runs, args.out)
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump({"command": "benchmarks/transform_mode.py --rows " + args.rows, "sizes": summary}, f, indent=1)
    print(format_table(summary))
    print(f"\nresults: {args.results}")


if __name__ == "__main__":
    main()
