"""Does the Trainer's input pipeline keep up with the model? Step rate of the DCN-V2 fed by the
Trainer's own tf.data input (Transform's gzipped TFRecords through tfx_bsl, models/trainer.py:
make_dataset) against the same batches fed from memory, in one run; and the input pipeline alone.

RUN_DIR: a pipeline output directory (`sparsectr run` or benchmarks/pipeline_scaling.py: the
latest Transform output in RUN_DIR/pipeline_root is used). The model and batch size are the
defaults sized to that training split (models/sizing.py). `--batches` batches are timed after
`--warmup` untimed ones, each way, the model's weights reset between the two.

Usage: .venv/bin/python benchmarks/trainer_input.py RUN_DIR [--batches 60] [--warmup 10]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sparsectr  # noqa: E402,F401  (the legacy-Keras switch)
import tensorflow as tf  # noqa: E402

from models.local_fn_args import local_fn_args  # noqa: E402
from models.dcn import build_dcn_v2  # noqa: E402
from models.trainer import compile_model, training_inputs  # noqa: E402
from models.vocabulary import id_counts  # noqa: E402
from sparsectr.check_data import latest_artifact_dir  # noqa: E402


def _rate(seconds: float, batches: int, batch_size: int) -> float:
    return batches * batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    root = os.path.join(args.run_dir, "pipeline_root")
    fn_args = local_fn_args(latest_artifact_dir(root, "Transform", "transform_graph"),
                            latest_artifact_dir(root, "Transform", "transformed_examples"), tempfile.mkdtemp(), {})
    inputs = training_inputs(fn_args)
    config, batch = inputs.config, inputs.config.batch_size
    total = args.warmup + args.batches
    streamed = inputs.train.repeat().take(total)

    started = time.perf_counter()
    for _ in inputs.train.repeat().take(total):
        pass
    input_alone = time.perf_counter() - started  # warm-up batches included: the file read starts cold

    in_memory = streamed.cache()
    for _ in in_memory:  # fills the cache
        pass

    model = build_dcn_v2(config, id_counts(inputs.tft_output, config.categorical_min_count, config.integer_buckets))
    compile_model(model, config)
    initial = model.get_weights()
    seconds = {}
    for name, dataset in (("from the Trainer's input", streamed), ("from memory", in_memory)):
        model.set_weights(initial)
        model.fit(dataset.take(args.warmup), epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(dataset.skip(args.warmup), epochs=1, verbose=0)
        seconds[name] = time.perf_counter() - started
    print(f"train split of {inputs.record['examples']:,} rows; batch {batch}; {args.batches} timed batches "
          f"after {args.warmup} warm-up\n")
    print("| fed | examples/s | ratio to memory |\n|---|---|---|")
    memory = _rate(seconds["from memory"], args.batches, batch)
    for name, s in seconds.items():
        print(f"| model {name} | {_rate(s, args.batches, batch):,.0f} | {_rate(s, args.batches, batch) / memory:.3f} |")
    alone = _rate(input_alone, total, batch)
    print(f"| input pipeline alone (no model) | {alone:,.0f} | {alone / memory:.2f} |")


if __name__ == "__main__":
    main()
