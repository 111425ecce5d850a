"""Transform's categorical vocabularies as the Trainer reads them.

Each vocabulary file lists the training split's values most frequent first,
one "count value" line each (preprocessing_fn: store_frequency). Value k
(1-based) has id k, so the values seen at least m times are exactly ids
1..K(m): raising the minimum count is capping ids at K(m) + 1, the OOV id.
"""
from __future__ import annotations

import tensorflow_transform as tft

from models import features
from models.preprocessing import vocabulary_name


def value_counts(tft_output: tft.TFTransformOutput, name: str) -> list[tuple[int, bytes]]:
    """(count, value) of each vocabulary entry of categorical `name`, in id order."""
    entries = []
    for line in tft_output.vocabulary_by_name(vocabulary_name(name)):
        count, _, value = line.partition(b" ")
        entries.append((int(float(count)), value))
    return entries


def id_counts(tft_output: tft.TFTransformOutput, min_count: int, integer_buckets: int) -> dict[str, int]:
    """Ids per field (the embedding rows) at a vocabulary minimum count of `min_count`: for a
    categorical, missing (0), the values seen at least `min_count` times, and OOV."""
    sizes = {name: integer_buckets + 1 for name in features.INTEGER_FEATURE_KEYS}  # missing + buckets
    for name in features.CATEGORICAL_FEATURE_KEYS:
        kept = sum(1 for count, _ in value_counts(tft_output, name) if count >= min_count)
        sizes[name] = kept + 2
    return sizes


def most_frequent_values(tft_output: tft.TFTransformOutput) -> dict[str, bytes]:
    """Each categorical's most frequent training value (fields without a vocabulary left out)."""
    out = {}
    for name in features.CATEGORICAL_FEATURE_KEYS:
        entries = value_counts(tft_output, name)
        if entries:
            out[name] = entries[0][1]
    return out
