"""Batches of Transform's output (tf.Example TFRecords) for the Trainer, in plain tf.data.

The batches are exactly the ones tfx_bsl's TFXIO dataset factory (`fn_args.data_accessor`) gives
for the same files, batch size, shuffle and seed: the files listed (and shuffled) the same way and
read one after another, the records shuffled in a buffer of SHUFFLE_BUFFER, batched, parsed
(tests/test_transformed_input.py compares the two). What differs is how the files are read:
TFXIO puts them through tf.data's parallel interleave, which hands every record from a reader
thread to the consumer and, in deterministic order, still reads one file at a time; that handing
over is most of its CPU per record (docs/PERFORMANCE.md), on cores the reader shares with the model.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

SHUFFLE_BUFFER = 10_000  # records; TFXIO's default


def transformed_batches(file_patterns: Sequence[str], feature_spec: dict, batch_size: int, shuffle: bool,
                        seed: int, label_key: str) -> tf.data.Dataset:
    """(features, label) batches, one pass; files ending in .gz are read as GZIP."""
    files = tf.io.gfile.glob(list(file_patterns))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {list(file_patterns)}: check Transform's output")
    gzip = [f.endswith(".gz") for f in files]
    if any(gzip) and not all(gzip):
        raise ValueError(f"{list(file_patterns)}: mixes gzipped and plain TFRecord files; expected one kind")
    compression = "GZIP" if all(gzip) else ""
    records = tf.data.TFRecordDataset(tf.data.Dataset.list_files(list(file_patterns), shuffle=shuffle, seed=seed),
                                      compression)
    if shuffle:
        records = records.shuffle(SHUFFLE_BUFFER, seed)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, feature_spec)
        return parsed, parsed.pop(label_key)

    return records.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
