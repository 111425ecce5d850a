"""Training step time of each loss as a ratio to BCE's, and the overhead of
gradient diagnostics, in one run: the default DCN-V2 (SPEC 5) at batch 4096.

The model sees fixed batches of random ids with 3% positives (the step's cost
does not depend on the values), vocabulary sizes like the default synthetic
run's. Each configuration is timed over the same number of Keras `fit` steps
after a warm-up epoch (tracing), in rounds that run every configuration once
in a shuffled order; the median round is reported.

Usage: .venv/bin/python benchmarks/loss_step_time.py [--steps 20 --rounds 3]
"""
from __future__ import annotations

import argparse
import time

import sparsectr  # noqa: F401
from sparsectr.progress import quiet_environment

quiet_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from models import features  # noqa: E402
from models.dcn import build_dcn_v2  # noqa: E402
from models.diagnostics import with_diagnostics  # noqa: E402
from models.hparams import ModelConfig  # noqa: E402
from models.losses import LOSSES  # noqa: E402
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
    config = ModelConfig(loss=loss, alpha=0.5, diagnostics=diagnostics)
    tf.keras.utils.set_random_seed(0)
    model = build_dcn_v2(config, VOCABULARY)
    callbacks = []
    if diagnostics:
        model, callbacks = with_diagnostics(model, config.diagnostics_every, f"{tmp}/{loss}")
    compile_model(model, config)
    return model, callbacks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmp", default="/tmp/sparsectr-step-time")
    args = parser.parse_args()
    data = _data(args.steps)
    configs = [(loss, False) for loss in LOSSES] + [("bce", True), ("combined_pair", True)]
    models = {}
    for loss, diagnostics in configs:
        model, callbacks = _model(loss, diagnostics, args.tmp)
        model.fit(data, epochs=1, verbose=0, callbacks=callbacks)  # trace and warm up
        models[(loss, diagnostics)] = (model, callbacks)
    times: dict[tuple[str, bool], list[float]] = {c: [] for c in configs}
    order = np.random.default_rng(0)
    for _ in range(args.rounds):
        for index in order.permutation(len(configs)):  # no configuration always first or last
            config = configs[index]
            model, callbacks = models[config]
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0, callbacks=callbacks)
            times[config].append((time.perf_counter() - start) / args.steps)
    step = {c: float(np.median(t)) for c, t in times.items()}
    base = step[("bce", False)]
    print(f"batch {BATCH}, {args.steps} steps x {args.rounds} rounds, median step time; ratio to BCE in this run\n")
    print("| loss | diagnostics | step time (ms) | ratio to BCE |\n|---|---|---|---|")
    for (loss, diagnostics), t in step.items():
        print(f"| {loss} | {'on' if diagnostics else 'off'} | {1000 * t:.0f} | {t / base:.3f} |")
    for loss in ("bce", "combined_pair"):
        print(f"\ndiagnostics overhead, {loss}: {step[(loss, True)] / step[(loss, False)]:.3f}x")


if __name__ == "__main__":
    main()
