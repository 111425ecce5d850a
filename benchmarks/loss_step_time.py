"""Training step time of each loss as a ratio to BCE's, and the overhead of
gradient diagnostics, in one run: the default DCN-V2 (docs/SCIENCE.md §5) at batch 4096.

The model sees fixed batches of random ids with 3% positives (the step's cost
does not depend on the values), vocabulary sizes like the default synthetic
run's. After a warm-up epoch (tracing), every configuration runs the same
number of Keras `fit` steps once per round, in a shuffled order each round.

On a shared 2-core machine a step's time is noisy and sometimes bimodal (the
same BCE step took 205 or 256 ms in different rounds), and the noise only ever
adds time. So each configuration's step time is its fastest round, and the
ratio to BCE is taken between those; the spread of the ratios paired within
each round is printed beside it, to show how far a single round could mislead.

Usage: .venv/bin/python benchmarks/loss_step_time.py [--steps 10 --rounds 9]
"""
from __future__ import annotations

import argparse
import time

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from sparsectr.progress import quiet_environment

quiet_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from models import features  # noqa: E402
from models.dcn import build_dcn_v2  # noqa: E402
from models.diagnostics import with_diagnostics  # noqa: E402
from models.hparams import ModelConfig  # noqa: E402
from models.losses import LOSSES  # noqa: E402
from models.sizing import SPEC_SETTINGS  # noqa: E402
from models.trainer import compile_model  # noqa: E402

BATCH = 4096
# Ids per field of the default run (200k rows): 33 integer buckets; categorical
# vocabularies from a handful to ~20k values.
VOCABULARY = {**{name: 33 for name in features.INTEGER_FEATURE_KEYS},
              **{name: size for name, size in zip(features.CATEGORICAL_FEATURE_KEYS,
                                                  np.geomspace(5, 20_000, len(features.CATEGORICAL_FEATURE_KEYS)).astype(int))}}


def _data(steps: int):
    rng = np.random.default_rng(0)
    n = BATCH * steps
    x = {name: rng.integers(0, VOCABULARY[name], size=n) for name in features.FEATURE_KEYS}
    y = (rng.random(n) < 0.03).astype(np.float32).reshape(-1, 1)
    w = np.where(y.ravel() == 1, 0.1, 1.0).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, y, w)).batch(BATCH).cache()


def _model(loss: str, diagnostics: bool, tmp: str):
    config = ModelConfig(loss=loss, alpha=0.5, diagnostics=diagnostics, **SPEC_SETTINGS)
    tf.keras.utils.set_random_seed(0)
    model = build_dcn_v2(config, VOCABULARY)
    callbacks = []
    if diagnostics:
        model, callbacks = with_diagnostics(model, config.diagnostics_every, f"{tmp}/{loss}")
    compile_model(model, config)
    return model, callbacks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--tmp", default="/tmp/sparsectr-step-time")
    args = parser.parse_args()
    data = _data(args.steps)
    configs = [(loss, False) for loss in LOSSES] + [("bce", True), ("combined_pair", True)]
    models = {}
    for loss, diagnostics in configs:
        model, callbacks = _model(loss, diagnostics, args.tmp)
        model.fit(data, epochs=1, verbose=0, callbacks=callbacks)  # trace and warm up
        models[(loss, diagnostics)] = (model, callbacks)
    times = np.zeros((args.rounds, len(configs)))
    order = np.random.default_rng(0)
    for r in range(args.rounds):
        for index in order.permutation(len(configs)):  # no configuration always first or last
            model, callbacks = models[configs[index]]
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0, callbacks=callbacks)
            times[r, index] = (time.perf_counter() - start) / args.steps
    fastest = times.min(axis=0)
    paired = times / times[:, [configs.index(("bce", False))]]  # ratio to BCE within each round
    base = fastest[configs.index(("bce", False))]
    print(f"batch {BATCH}, {args.steps} steps x {args.rounds} rounds; step time = fastest round; "
          f"ratio to BCE in this run\n")
    print("| loss | diagnostics | step time (ms) | ratio to BCE | paired ratios per round (min-max) |")
    print("|---|---|---|---|---|")
    for i, (loss, diagnostics) in enumerate(configs):
        print(f"| {loss} | {'on' if diagnostics else 'off'} | {1000 * fastest[i]:.0f} | {fastest[i] / base:.3f} "
              f"| {paired[:, i].min():.2f}-{paired[:, i].max():.2f} |")
    for loss in ("bce", "combined_pair"):
        on, off = configs.index((loss, True)), configs.index((loss, False))
        print(f"\ndiagnostics overhead, {loss}: {fastest[on] / fastest[off]:.3f}x "
              f"(paired per round {np.min(times[:, on] / times[:, off]):.2f}-{np.max(times[:, on] / times[:, off]):.2f})")


if __name__ == "__main__":
    main()
