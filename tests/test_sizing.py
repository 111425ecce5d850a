"""Settings sized to the training data (models/sizing.py), worked out by hand."""
from __future__ import annotations

import pytest

from models.hparams import ModelConfig
from models.sizing import DataSize, sized_settings


@pytest.mark.parametrize("examples, positives, expected", [
    # Criteo_x1's training split (33M rows, about 26% clicks): the paper's settings.
    (33_003_326, 8_581_000, {"batch_size": 4096, "embedding_l2": 1e-5, "dropout": 0.1, "categorical_min_count": 2}),
    # The default generated run: 160k rows at 3% -> 5,000 rows per 32 steps -> 4096;
    # L2 0.01 * 4096 / 4,800 positives; fewer than 20,000 positives -> min count 10.
    (160_000, 4_800, {"batch_size": 4096, "embedding_l2": 0.01 * 4096 / 4_800, "dropout": 0.1,
                      "categorical_min_count": 10}),
    # The Kaggle sample's 8,100 training rows: 253 per step -> 256; L2 0.01 * 256 / 1,760.
    (8_100, 1_760, {"batch_size": 256, "embedding_l2": 0.01 * 256 / 1_760, "dropout": 0.1,
                    "categorical_min_count": 10}),
    # 1M rows: 31,250 per step, capped at 4096; 30,000 positives -> min count 2, L2 1.37e-3.
    (1_000_000, 30_000, {"batch_size": 4096, "embedding_l2": 0.01 * 4096 / 30_000, "dropout": 0.1,
                         "categorical_min_count": 2}),
    # 40k rows -> 1,250 per step -> 1024.
    (40_000, 1_000, {"batch_size": 1024, "embedding_l2": 0.01 * 1024 / 1_000, "dropout": 0.1,
                     "categorical_min_count": 10}),
    # Tiny data: the smallest batch; no positives counts as one.
    (500, 0, {"batch_size": 256, "embedding_l2": 0.01 * 256, "dropout": 0.1, "categorical_min_count": 10}),
])
def test_the_rule_at_several_sizes(examples, positives, expected):
    got = sized_settings(DataSize(examples, positives))
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12), name


def test_only_unset_settings_are_sized_and_the_given_ones_are_kept():
    size = DataSize(8_100, 1_760)
    given = ModelConfig(batch_size=512, dropout=0.3)
    assert given.unsized_fields() == ("embedding_l2", "categorical_min_count")
    sized = given.sized(size)
    assert (sized.batch_size, sized.dropout) == (512, 0.3)
    # L2 follows the batch size training uses: the per-example weight of the penalty is l2 / batch.
    assert sized.embedding_l2 == pytest.approx(0.01 * 512 / 1_760)
    assert sized.categorical_min_count == 10 and sized.unsized_fields() == ()
    # Transform's vocabulary keeps every value the rule could want (count >= 2) when the count is unset,
    # and exactly the given count otherwise.
    assert given.vocabulary_floor == 2 and ModelConfig(categorical_min_count=5).vocabulary_floor == 5


def test_an_empty_training_split_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="training split is empty"):
        DataSize(0, 0)


@pytest.mark.parametrize("field, value", [("batch_size", 0), ("categorical_min_count", 0), ("dropout", 1.0),
                                          ("embedding_l2", -1e-3)])
def test_given_settings_are_still_validated(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})
