"""Which categorical makes a good sparsity key: the evidence behind the
default `sparsity_key` (docs/EVALUATION.md).

For each of C1..C26, on each dataset: the key value's positive rate is fitted
on a random 80% of the rows as models/sparsity.py fits it (positives weigh
beta, smoothed towards the overall rate with `sparsity_smoothing`
pseudo-examples), the held-out 20% are cut into the default buckets, and the
feature is scored by the entropy (nats) of the held-out bucket shares: 0 when
every row lands in one bucket, ln 7 = 1.95 at most. Also printed: the share
of rows where the feature is missing and its number of distinct values.

Usage:
  .venv/bin/python benchmarks/sparsity_key_spread.py --real tests/data/criteo/kaggle_train_head10k.tsv.gz \
      --real-beta 0.1 --generated-rows 50000 --positive-rate 0.03
"""
from __future__ import annotations

import argparse
import collections
import os
import tempfile

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
import numpy as np

from models import features
from models.criteo_rows import read_rows
from models.hparams import ModelConfig
from synthetic import generator


def bucket_entropy(rows: list[dict], name: str, beta: float, config: ModelConfig, rng: np.random.Generator
                   ) -> float:
    """Entropy of the held-out rows' bucket shares when `name` is the key."""
    train = rng.random(len(rows)) < 0.8
    keys = [r.get(name, b"") for r in rows]
    labels = np.array([r[features.LABEL_KEY] for r in rows])
    positives, examples = collections.Counter(), collections.Counter()
    for key, label, fit in zip(keys, labels, train):
        if fit:
            positives[key] += label
            examples[key] += 1
    mean = labels[train].mean()
    overall = beta * mean / (beta * mean + 1 - mean)
    m = config.sparsity_smoothing
    rates = [(beta * positives[k] + m * overall) / (beta * positives[k] + examples[k] - positives[k] + m)
             for k, fit in zip(keys, train) if not fit]
    shares = np.bincount(np.searchsorted(config.sparsity_boundaries, rates, side="right"),
                         minlength=len(config.sparsity_boundaries) + 1) / len(rates)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum()) + 0.0  # + 0.0: no "-0.00" for a single bucket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", required=True, help="raw Criteo rows (TSV or CSV)")
    parser.add_argument("--real-beta", type=float, default=0.1, help="beta applied to the real rows (docs/SCIENCE.md §2)")
    parser.add_argument("--generated-rows", type=int, default=50_000)
    parser.add_argument("--positive-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = ModelConfig()
    real = read_rows(args.real)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "generated.tsv")
        generator.generate_to_path(args.generated_rows, args.positive_rate, args.seed, path)
        generated = read_rows(path)
    datasets = [(f"real, beta {args.real_beta:g} ({len(real):,} rows)", real, args.real_beta),
                (f"generated, {args.positive_rate:.0%} clicks ({len(generated):,} rows)", generated, 1.0)]
    print(f"sparsity_boundaries {list(config.sparsity_boundaries)}, smoothing {config.sparsity_smoothing:g}, "
          f"80/20 split seed {args.seed}\n")
    print("| feature | " + " | ".join(f"entropy, {name}" for name, _, _ in datasets)
          + " | missing (real) | distinct values (real) |")
    print("|---" * (len(datasets) + 3) + "|")
    for name in features.CATEGORICAL_FEATURE_KEYS:
        entropies = [bucket_entropy(rows, name, beta, config, np.random.default_rng(args.seed))
                     for _, rows, beta in datasets]
        missing = np.mean([name not in r for r in real])
        distinct = len({r[name] for r in real if name in r})
        print(f"| {name} | " + " | ".join(f"{e:.2f}" for e in entropies) + f" | {missing:.0%} | {distinct:,} |")


if __name__ == "__main__":
    main()
