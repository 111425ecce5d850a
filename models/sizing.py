"""Training settings sized to the training data, for the ones the user leaves unset.

The paper's settings (batch 4096, embedding L2 1e-5, dropout 0.1, vocabulary
minimum count 2) are tuned for Criteo_x1's 33M rows. On a few thousand rows
they give a handful of steps per epoch and a model that overfits rare values
before it learns common ones. The Trainer counts its training rows and
positives (one pass over Transform's output) and fills each unset setting
with the rule below; every rule reaches the paper's value on large data, so a
large run gets the paper's model. docs/PERFORMANCE.md ("Settings sized to the
data") has the measurements the constants come from.

- batch size: the power of two nearest examples / STEPS_PER_EPOCH, within
  [MIN_BATCH, 4096]: enough steps per epoch for early stopping to choose from.
- embedding L2: Keras adds the penalty once per step, so its weight against
  the data is l2 * steps / examples = l2 / batch per example. The rule keeps
  l2 / batch proportional to 1 / positives (clicks carry the signal):
  L2_PER_POSITIVE * batch / positives, never below the paper's 1e-5.
- vocabulary minimum count: values seen fewer times than
  MIN_COUNT_PER_POSITIVE_SHARE ... share the OOV id; see `min_count`.
- dropout: the paper's 0.1 (more did not help on validation at any size).
Epochs (10) and patience (2) are not sized: early stopping keeps the best
epoch, which came well before the cap at every size measured.
"""
from __future__ import annotations

import dataclasses
import math

SPEC_BATCH_SIZE = 4096
SPEC_EMBEDDING_L2 = 1e-5
SPEC_MIN_COUNT = 2
SPEC_DROPOUT = 0.1
MIN_BATCH_SIZE = 256
STEPS_PER_EPOCH = 32
L2_PER_POSITIVE = 1e-2
SMALL_DATA_POSITIVES = 20_000  # below this many positives the minimum count rises
SMALL_DATA_MIN_COUNT = 10

SIZED_FIELDS = ("batch_size", "embedding_l2", "dropout", "categorical_min_count")
# What the rule gives on large data: the paper's settings.
SPEC_SETTINGS = {"batch_size": SPEC_BATCH_SIZE, "embedding_l2": SPEC_EMBEDDING_L2, "dropout": SPEC_DROPOUT,
                 "categorical_min_count": SPEC_MIN_COUNT}


@dataclasses.dataclass(frozen=True)
class DataSize:
    """Examples and positives of the rows the Trainer fits (validation rows excluded)."""
    examples: int
    positives: int

    def __post_init__(self):
        if self.examples < 1:
            raise ValueError("the training split is empty: no rows to train on (check the data and its splits)")


def batch_size(size: DataSize) -> int:
    target = max(size.examples / STEPS_PER_EPOCH, 1.0)
    return int(min(max(2 ** round(math.log2(target)), MIN_BATCH_SIZE), SPEC_BATCH_SIZE))


def embedding_l2(size: DataSize, batch: int) -> float:
    return max(SPEC_EMBEDDING_L2, L2_PER_POSITIVE * batch / max(size.positives, 1))


def min_count(size: DataSize) -> int:
    return SMALL_DATA_MIN_COUNT if size.positives < SMALL_DATA_POSITIVES else SPEC_MIN_COUNT


def sized_settings(size: DataSize, given_batch_size: int | None = None) -> dict[str, float | int]:
    """Every sized setting's value for data of `size` (the L2 at the given batch size, if any)."""
    batch = given_batch_size or batch_size(size)
    return {"batch_size": batch, "embedding_l2": embedding_l2(size, batch), "dropout": SPEC_DROPOUT,
            "categorical_min_count": min_count(size)}
