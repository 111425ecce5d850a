"""tf.Transform preprocessing_fn: raw Criteo features -> integer ids.

Every one of the 39 fields becomes one id for an embedding lookup:

- integers I1..I13: cut into `integer_buckets` quantile buckets computed on
  the training split (ids 1..B); a missing value gets id 0. Quantiles are
  rank-based, so buckets of x are those of any monotone transform of it (such
  as sign(x) log(1 + |x|)); bucketing x itself keeps ids exact. A float
  transform would put the many values that sit exactly on a boundary (counts
  repeat) on either side of it depending on the batch size, since TensorFlow's
  vectorised and scalar log1p differ in the last bit: served predictions
  changed with the batch (up to 0.018 in probability on real rows).
- categoricals C1..C26: a vocabulary of the training split's values seen at
  least `vocabulary_floor` times (the given `categorical_min_count`, else 2),
  most frequent first (ids 1..V), stored with each value's count; rarer and
  unseen values share the OOV id V + 1; a missing value gets id 0. The
  Trainer may raise the minimum count (models/sizing.py): the model then
  caps ids at the last value counted often enough, plus one for OOV.
- label: 0/1 as int64; weight: beta for positives, 1 for negatives (docs/SCIENCE.md §2).
- sparsity_bucket: the example's sparsity bucket (models/sparsity.py), and
  slice_<name>: the raw value of each of `slice_features` (models/slices.py),
  for TFMA's slices; not model inputs.
"""
from __future__ import annotations

from typing import Any, Optional

import tensorflow as tf
import tensorflow_transform as tft

from models import features
from models.hparams import ModelConfig
from models.slices import slice_key, slice_values
from models.sparsity import SPARSITY_BUCKET_KEY, bucketize, key_values, smoothed_rate
from models.tensors import as_sparse, to_dense

WEIGHT_KEY = "weight"
MISSING_ID = 0
# tf.Transform traces preprocessing_fn into a TF1 graph rather than tf.functions: the same
# vocabularies, buckets and transformed examples, and the fixed cost of a Transform run drops by
# about a third (tracing tf.functions is most of the difference). benchmarks/transform_mode.py
# measures both modes; the Trainer and the serving signatures load either graph alike.
FORCE_TF_COMPAT_V1 = True


def vocabulary_name(name: str) -> str:
    return f"vocabulary_{name}"


def _dense_ids(ids: tf.SparseTensor) -> tf.Tensor:
    """Sparse ids -> [batch] dense ids shifted by one; missing -> 0."""
    return to_dense(ids, -1) + 1


@tf.autograph.experimental.do_not_convert  # traced as written, as models/dcn.py's build_dcn_v2
def preprocessing_fn(inputs: dict[str, Any], custom_config: Optional[dict[str, Any]] = None) -> dict[str, tf.Tensor]:
    config = ModelConfig.from_custom_config(custom_config)
    outputs: dict[str, tf.Tensor] = {}
    for name in features.INTEGER_FEATURE_KEYS:
        x = as_sparse(inputs[name])
        t = tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape)
        outputs[name] = _dense_ids(tft.bucketize(t, num_buckets=config.integer_buckets))
    for name in features.CATEGORICAL_FEATURE_KEYS:
        ids = tft.compute_and_apply_vocabulary(
            as_sparse(inputs[name]),
            frequency_threshold=config.vocabulary_floor,
            num_oov_buckets=1,
            vocab_filename=vocabulary_name(name),
            store_frequency=True,  # lines "count value", most frequent first (models/vocabulary.py)
        )
        outputs[name] = _dense_ids(ids)
    if features.LABEL_KEY in inputs:
        label = to_dense(as_sparse(inputs[features.LABEL_KEY]), 0)
        outputs[features.LABEL_KEY] = tf.cast(label, tf.int64)
        outputs[WEIGHT_KEY] = tf.where(label > 0, config.beta, 1.0)
        # The analyzers need labels; once analysed, the bucket depends on the key alone, so
        # the serving graph (no label) computes it too.
        rate = smoothed_rate(key_values(inputs, config.sparsity_key), label, config.beta, config.sparsity_smoothing)
        outputs[SPARSITY_BUCKET_KEY] = bucketize(rate, config.sparsity_boundaries)
    for name in config.slice_features:
        outputs[slice_key(name)] = slice_values(inputs, name)
    return outputs
