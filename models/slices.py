"""Raw-feature slices for TFMA (`slice_features`).

TFMA evaluates through the model's `transform_features` signature, and when
a slice's feature name is among the transformed features it slices on those
first. The transformed `C17` is a vocabulary id (rare values merged into one
OOV id), so a slice spec on `C17` would name its slices by ids. Transform
therefore writes, for each configured slice feature, `slice_<name>`: the
value as written in the raw log ("(missing)" when absent), and TFMA slices
on that. These columns are not model inputs.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from models.sparsity import MISSING_VALUE, key_values

SLICE_PREFIX = "slice_"
MISSING_SLICE_VALUE = "(missing)"


def slice_key(name: str) -> str:
    """The transformed feature TFMA slices on for raw feature `name`."""
    return SLICE_PREFIX + name


def raw_feature_of(key: str) -> Optional[str]:
    """`name` for a `slice_<name>` column, None for any other column."""
    return key[len(SLICE_PREFIX):] if key.startswith(SLICE_PREFIX) else None


def slice_values(inputs: dict, name: str) -> tf.Tensor:
    """[batch] strings: the raw value of `name`, or MISSING_SLICE_VALUE."""
    values = key_values(inputs, (name,))
    return tf.where(tf.equal(values, MISSING_VALUE), MISSING_SLICE_VALUE, values)
