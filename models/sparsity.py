"""Sparsity buckets: how sparse the feedback is around each example.

The key is one categorical (default C2, docs/EVALUATION.md says why) or a
cross of two features. On the training split, each key value v gets the
positive rate the model sees, positives weighing beta (docs/SCIENCE.md §2), smoothed
towards the overall rate r0 with m pseudo-examples:

    rate(v) = (beta * pos(v) + m * r0) / (beta * pos(v) + neg(v) + m)

so a value seen a handful of times sits near r0 rather than at 0 or 1, and a
value never seen in training gets r0. The rate is cut into log-spaced buckets
[0, b1), [b1, b2), ..., [bK, 100%]. Transform computes the counts (analyzers
over the training split) and writes the bucket id beside the model's
features; TFMA slices on it through the `transform_features` signature.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import tf_utils

from models.tensors import as_sparse, to_dense

SPARSITY_BUCKET_KEY = "sparsity_bucket"
CROSS_SEPARATOR = "_x_"
MISSING_VALUE = ""  # a missing key value is a value of its own


def key_values(inputs: dict, names: Sequence[str]) -> tf.Tensor:
    """[batch] strings: the key feature's value per example (a cross joins two)."""
    columns = []
    for name in names:
        x = as_sparse(inputs[name])
        if x.dtype != tf.string:
            x = tf.SparseTensor(x.indices, tf.strings.as_string(x.values), x.dense_shape)
        columns.append(to_dense(x, MISSING_VALUE))
    return columns[0] if len(columns) == 1 else tf.strings.join(columns, separator=CROSS_SEPARATOR)


def _count_per_value(counted: tf.Tensor, values: tf.Tensor, name: str) -> tf.Tensor:
    """For each of `values`, how often it occurs in `counted` over the analysed split."""
    counts_file = tft.count_per_key(counted, key_vocabulary_filename=name)
    # Maps a value to its count through the file count_per_key wrote (a hash
    # table asset in the transform graph; unseen values count 0). This is the
    # lookup TFT's own per-key mappers use on such files.
    return tf_utils.apply_per_key_vocabulary(counts_file, values, default_value="0")[:, 0]


def smoothed_rate(keys: tf.Tensor, label: tf.Tensor, beta: float, smoothing: float) -> tf.Tensor:
    """[batch] float32: rate(key value) as above, from analyzers over the analysed split."""
    positive = label > 0
    mean_label = tft.mean(tf.cast(positive, tf.float32))
    overall = beta * mean_label / (beta * mean_label + 1.0 - mean_label)
    pos = _count_per_value(tf.boolean_mask(keys, positive), keys, "sparsity_positives")
    total = _count_per_value(keys, keys, "sparsity_examples")
    weighted_pos = beta * pos
    return (weighted_pos + smoothing * overall) / (weighted_pos + (total - pos) + smoothing)


def bucketize(rate: tf.Tensor, boundaries: Sequence[float]) -> tf.Tensor:
    """Bucket i holds boundaries[i-1] <= rate < boundaries[i] (int64, 0..len(boundaries))."""
    return tf.cast(tf.raw_ops.Bucketize(input=rate, boundaries=[float(b) for b in boundaries]), tf.int64)


def bucket_names(boundaries: Sequence[float]) -> list[str]:
    """Human names of the buckets: '[0%, 0.5%)', ..., '[25%, 100%]'."""
    edges = [0.0, *boundaries, 1.0]

    def pct(x: float) -> str:
        return f"{100 * x:.4g}%"

    return [f"[{pct(a)}, {pct(b)}{']' if i == len(edges) - 2 else ')'}" for i, (a, b) in
            enumerate(zip(edges, edges[1:]))]
