"""Shape conversions of Transform's inputs: a raw feature arrives as a
[batch, <=1] SparseTensor (VarLenFeature) or, in some callers, dense."""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft


def as_sparse(x) -> tf.SparseTensor:
    return x if isinstance(x, tf.SparseTensor) else tf.sparse.from_dense(tf.reshape(x, [-1, 1]))


def to_dense(x: tf.SparseTensor, default_value) -> tf.Tensor:
    """[batch, <=1] sparse -> [batch] dense; a batch where the feature is
    missing everywhere has a [batch, 0] shape, hence the explicit one."""
    return tf.reshape(tft.sparse_tensor_to_dense_with_shape(x, [None, 1], default_value), [-1])
