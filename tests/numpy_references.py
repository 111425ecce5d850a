"""Independent NumPy references shared by several tests."""
from __future__ import annotations

import collections

import numpy as np


def delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's standard error from the full matrix of positive-negative pairs (ties half)."""
    pos, neg = p[y == 1].astype(np.float64), p[y == 0].astype(np.float64)
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))


def sparsity_buckets(train_keys: list, train_labels: list, keys: list, beta: float, smoothing: float,
                     boundaries) -> np.ndarray:
    """The sparsity bucket of each of `keys` (models/sparsity.py, docs/EVALUATION.md): the beta-weighted
    positive rate of the key value among the training examples, smoothed towards the overall rate."""
    positives, examples = collections.Counter(), collections.Counter()
    for key, label in zip(train_keys, train_labels):
        positives[key] += label
        examples[key] += 1
    mean = sum(positives.values()) / len(train_keys)
    overall = beta * mean / (beta * mean + 1 - mean)
    rates = [(beta * positives[k] + smoothing * overall) / (beta * positives[k] + examples[k] - positives[k] + smoothing)
             for k in keys]
    return np.searchsorted(boundaries, rates, side="right")
