"""preprocessing_fn under tf.Transform (Beam, in process) on a small dataset
whose expected ids are computed independently in NumPy."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models import features
from models.hparams import ModelConfig
from models.preprocessing import FORCE_TF_COMPAT_V1, MISSING_ID, WEIGHT_KEY, preprocessing_fn
from models.slices import MISSING_SLICE_VALUE, slice_key
from models.sparsity import SPARSITY_BUCKET_KEY, bucket_names, key_values
from numpy_references import sparsity_buckets

RAW_SPEC = {features.LABEL_KEY: tf.io.VarLenFeature(tf.int64),
            **{name: tf.io.VarLenFeature(tf.int64) for name in features.INTEGER_FEATURE_KEYS},
            **{name: tf.io.VarLenFeature(tf.string) for name in features.CATEGORICAL_FEATURE_KEYS}}
I1_VALUES = [-3, -1, 0, 0, 1, 2, 5, 10, 100, 1000, 10000, None]
C1_VALUES = [b"a", b"a", b"a", b"b", b"b", b"c", None, b"a", b"b", b"d", b"a", b"b"]


def _rows(i1, c1, labels) -> list[dict]:
    rows = []
    for x, c, y in zip(i1, c1, labels):
        row = {name: [] for name in RAW_SPEC}
        row[features.LABEL_KEY] = [y]
        row["I1"] = [] if x is None else [x]
        row["C1"] = [] if c is None else [c]
        rows.append(row)
    return rows


def _transform(config: ModelConfig, train: list[dict], more: list[dict], tmp_path) -> tuple[list, list]:
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=FORCE_TF_COMPAT_V1):
        (out, _), transform_fn = (train, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, config.to_custom_config()))
        more_out, _ = ((more, metadata), transform_fn) | tft_beam.TransformDataset()
    return out, more_out


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    labels = [1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    config = ModelConfig(integer_buckets=4, categorical_min_count=2, beta=0.25, sparsity_key=("C1",),
                         sparsity_smoothing=2.0, sparsity_boundaries=(0.06, 0.07, 0.1), slice_features=("C1", "I1"))
    unseen = _rows([20000, None], [b"zzz", b"a"], [0, 1])
    return config, labels, *_transform(config, _rows(I1_VALUES, C1_VALUES, labels), unseen,
                                       tmp_path_factory.mktemp("tft"))


def test_integers_become_quantile_buckets_and_missing_is_zero(transformed):
    config, _, out, _ = transformed
    ids = np.array([int(r["I1"]) for r in out])
    present = np.array([x is not None for x in I1_VALUES])
    assert ids[~present].tolist() == [MISSING_ID]
    assert ids[present].min() == 1 and ids[present].max() == config.integer_buckets
    # Bucket ids follow the order of sign(x) * log(1 + |x|), so negatives stay below 0.
    t = np.array([np.sign(x) * np.log1p(abs(x)) for x in I1_VALUES if x is not None])
    order = np.argsort(t, kind="stable")
    assert np.all(np.diff(ids[present][order]) >= 0)
    assert ids[0] < ids[2]  # -3 vs 0
    # Each bucket holds about a quarter of the 11 present values.
    assert np.bincount(ids[present], minlength=5)[1:].max() <= 4
    # Absent in every row of a batch still gives one id per row (shape [batch]).
    assert all(int(r["I2"]) == MISSING_ID for r in out)


def test_categoricals_get_frequent_value_ids_an_oov_id_and_missing_zero(transformed):
    _, _, out, unseen = transformed
    ids = {c: int(r["C1"]) for c, r in zip(C1_VALUES, out)}
    # a: 5 times, b: 4 times -> vocabulary [a, b] (min count 2), ids 1 and 2;
    # c and d (once each) and unseen values share the OOV id 3.
    assert ids[b"a"] == 1 and ids[b"b"] == 2
    assert ids[b"c"] == ids[b"d"] == 3
    assert ids[None] == MISSING_ID
    assert int(unseen[0]["C1"]) == 3 and int(unseen[1]["C1"]) == 1
    assert int(unseen[1]["I1"]) == MISSING_ID and int(unseen[0]["I1"]) == 4  # above the largest boundary


def test_label_and_beta_weight(transformed):
    config, labels, out, _ = transformed
    assert [int(r[features.LABEL_KEY]) for r in out] == labels
    np.testing.assert_allclose([float(r[WEIGHT_KEY]) for r in out],
                               [config.beta if y else 1.0 for y in labels])


def test_sparsity_bucket_is_the_smoothed_weighted_positive_rate_of_the_key_value(transformed):
    config, labels, out, unseen = transformed
    keys = [c or b"" for c in C1_VALUES]
    expected = sparsity_buckets(keys, labels, keys + [b"zzz", b"a"], config.beta, config.sparsity_smoothing,
                                config.sparsity_boundaries)
    got = [int(r[SPARSITY_BUCKET_KEY]) for r in out + unseen]
    assert got == expected.tolist()
    assert len(set(got)) == 4  # the data is built to reach four of the buckets
    assert bucket_names(config.sparsity_boundaries) == ["[0%, 6%)", "[6%, 7%)", "[7%, 10%)", "[10%, 100%]"]


def test_sparsity_key_of_a_cross_joins_values_and_keeps_missing_apart():
    inputs = {"C1": tf.sparse.SparseTensor([[0, 0], [2, 0]], [b"a", b"b"], [3, 1]),
              "I1": tf.sparse.SparseTensor([[0, 0], [1, 0]], tf.constant([7, -1], tf.int64), [3, 1])}
    assert key_values(inputs, ("C1",)).numpy().tolist() == [b"a", b"", b"b"]
    assert key_values(inputs, ("C1", "I1")).numpy().tolist() == [b"a_x_7", b"_x_-1", b"b_x_"]


def test_sparsity_settings_are_checked():
    with pytest.raises(ValueError, match="sparsity_key"):
        ModelConfig(sparsity_key=("C2", "C3", "C4"))
    with pytest.raises(ValueError, match="sparsity_key"):
        ModelConfig(sparsity_key=("user_id",))
    with pytest.raises(ValueError, match="sparsity_boundaries"):
        ModelConfig(sparsity_boundaries=(0.1, 0.05))


def test_slice_features_carry_the_raw_value_as_written_and_name_missing_values(transformed):
    """TFMA slices on these, not on the vocabulary / bucket ids of the same features (models/slices.py)."""
    _, _, out, unseen = transformed
    c1 = [r[slice_key("C1")] for r in out + unseen]
    i1 = [r[slice_key("I1")] for r in out + unseen]
    as_text = [MISSING_SLICE_VALUE.encode() if c is None else c for c in C1_VALUES + [b"zzz", b"a"]]
    assert c1 == as_text  # "zzz" was never seen in training: still its own value, not OOV
    assert i1 == [MISSING_SLICE_VALUE.encode() if x is None else str(x).encode() for x in I1_VALUES + [20000, None]]


def test_slice_features_are_checked():
    with pytest.raises(ValueError, match=r"slice_features: \['user'\]"):
        ModelConfig(slice_features=("C17", "user"))
