"""Pieces of the Trainer's run_fn: the non-finite loss guard, the kept epoch, the held-out rows."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import features
from models.trainer import FailOnNonFiniteLoss, NonFiniteLossError, _held_out, best_epoch


def test_training_stops_at_the_first_non_finite_batch_with_an_error_that_says_where():
    x = np.ones((64, 1), np.float32)
    x[40] = np.inf  # batch 3 of 16 rows
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    record = tf.keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    # FloatingPointError, its base class: pipeline tests in the same process may re-import models.trainer
    # (TFX loads run_fn by module name), which makes a new NonFiniteLossError class.
    with pytest.raises(FloatingPointError, match=r"training loss is (inf|nan) at epoch 1, batch 3.*learning-rate") as e:
        model.fit(x, np.zeros(64), batch_size=16, epochs=2, shuffle=False, verbose=0,
                  callbacks=[FailOnNonFiniteLoss(), record])
    assert type(e.value).__name__ == NonFiniteLossError.__name__
    assert seen == [0, 1]  # nothing ran after the guard's batch


def test_the_kept_epoch_follows_the_monitored_metric_and_its_direction():
    history = {"val_auc": [0.70, 0.74, 0.73], "val_weighted_logloss": [0.50, 0.49, 0.48]}
    assert best_epoch(history, "auc") == 1
    assert best_epoch(history, "weighted_logloss") == 2


def test_held_out_rows_are_a_stable_share_chosen_by_content_not_position():
    rng = np.random.default_rng(0)
    rows = {name: rng.integers(0, 50, 20_000) for name in features.FEATURE_KEYS}
    mask = _held_out({k: tf.constant(v) for k, v in rows.items()}, 0.1).numpy()
    assert 0.09 < mask.mean() < 0.11
    order = rng.permutation(20_000)
    shuffled = _held_out({k: tf.constant(v[order]) for k, v in rows.items()}, 0.1).numpy()
    np.testing.assert_array_equal(shuffled, mask[order])  # the same rows, whatever the order or batch
