"""The Trainer's reader of Transform's output gives exactly the batches of tfx_bsl's TFXIO factory."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from models.transformed_input import transformed_batches

SPEC = {"a": tf.io.FixedLenFeature([], tf.int64), "w": tf.io.FixedLenFeature([], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64)}
FILE_ROWS = (3_000, 7_001, 1_234)  # uneven files: the interleave runs out of one before the others


def _write(directory, gzip: bool) -> str:
    row = 0
    for index, rows in enumerate(FILE_ROWS):
        suffix = ".gz" if gzip else ""
        options = tf.io.TFRecordOptions("GZIP" if gzip else None)
        with tf.io.TFRecordWriter(str(directory / f"part-{index}{suffix}"), options) as writer:
            for _ in range(rows):
                example = tf.train.Example(features=tf.train.Features(feature={
                    "a": tf.train.Feature(int64_list=tf.train.Int64List(value=[row])),
                    "w": tf.train.Feature(float_list=tf.train.FloatList(value=[row / 7])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[row % 3 == 0]))}))
                writer.write(example.SerializeToString())
                row += 1
    return str(directory / "part-*")


def _tfxio_batches(pattern: str, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    schema = tft.DatasetMetadata.from_feature_spec(SPEC).schema
    source = tfxio.TFExampleRecord(file_pattern=[pattern], schema=schema)
    return source.TensorFlowDataset(tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size, label_key="label", num_epochs=1, shuffle=shuffle, shuffle_seed=seed))


@pytest.mark.parametrize("gzip,shuffle,seed", [(True, True, 1), (True, False, 0), (False, True, 7)])
def test_the_batches_are_tfxios_batches(tmp_path, gzip, shuffle, seed):
    pattern = _write(tmp_path, gzip)
    ours = list(transformed_batches([pattern], SPEC, 1024, shuffle, seed, "label"))
    theirs = list(_tfxio_batches(pattern, 1024, shuffle, seed))
    assert len(ours) == len(theirs) == -(-sum(FILE_ROWS) // 1024)
    for (features, label), (their_features, their_label) in zip(ours, theirs):
        np.testing.assert_array_equal(label.numpy(), their_label.numpy())
        assert sorted(features) == sorted(their_features) == ["a", "w"]
        for name in features:
            np.testing.assert_array_equal(features[name].numpy(), their_features[name].numpy())
    rows = np.concatenate([f["a"].numpy() for f, _ in ours])
    np.testing.assert_array_equal(np.sort(rows), np.arange(sum(FILE_ROWS)))  # every row once
    assert shuffle == (not np.array_equal(rows[:1000], np.sort(rows[:1000])))


def test_no_files_and_mixed_compression_are_errors_that_name_the_pattern(tmp_path):
    with pytest.raises(FileNotFoundError, match="no transformed examples match"):
        transformed_batches([str(tmp_path / "none-*")], SPEC, 8, False, 0, "label")
    _write(tmp_path, gzip=True)
    (tmp_path / "part-9").write_bytes(b"")
    with pytest.raises(ValueError, match="mixes gzipped and plain"):
        transformed_batches([str(tmp_path / "part-*")], SPEC, 8, False, 0, "label")
