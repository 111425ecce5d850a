"""The training losses against an independent NumPy computation."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.hparams import ModelConfig
from models.losses import WeightedBCE, get_loss


def _numpy_weighted_bce(y: np.ndarray, z: np.ndarray, w: np.ndarray) -> float:
    """(1/N) * sum_i w_i * bce(y_i, sigmoid(z_i)), bce written with log-sum-exp."""
    per_example = np.logaddexp(0.0, z) - y * z  # = -y log s(z) - (1-y) log(1 - s(z))
    return float(np.sum(w * per_example) / len(y))


def test_weighted_bce_matches_numpy_with_the_spec_normalisation():
    rng = np.random.default_rng(0)
    y = (rng.random(257) < 0.1).astype(np.float32)
    z = rng.normal(0, 3, size=257).astype(np.float32)
    beta = 0.2
    w = np.where(y > 0, beta, 1.0).astype(np.float32)
    loss = WeightedBCE()(y.reshape(-1, 1), z.reshape(-1, 1), sample_weight=w)
    np.testing.assert_allclose(float(loss), _numpy_weighted_bce(y, z, w), rtol=1e-5)
    # Normalised by N, not by sum(w): down-weighting positives lowers the loss.
    unweighted = float(WeightedBCE()(y.reshape(-1, 1), z.reshape(-1, 1)))
    assert float(loss) < unweighted


def test_weighted_bce_is_finite_for_extreme_logits():
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    z = np.array([[-200.0], [200.0], [200.0], [-200.0]], np.float32)
    loss = float(WeightedBCE()(y, z))
    np.testing.assert_allclose(loss, _numpy_weighted_bce(y.ravel(), z.ravel(), np.ones(4)), rtol=1e-6)
    assert loss == pytest.approx(100.0)


def test_weighted_bce_gradient_on_negatives_is_sigmoid_of_logit():
    """d L / d z_i = w_i (sigmoid(z_i) - y_i) / N: the quantity whose vanishing
    on negatives the paper studies."""
    y = tf.constant([[0.0], [0.0], [1.0]])
    z = tf.Variable([[-4.0], [0.5], [2.0]])
    with tf.GradientTape() as tape:
        loss = WeightedBCE()(y, z, sample_weight=tf.constant([1.0, 1.0, 0.5]))
    grad = tape.gradient(loss, z).numpy().ravel()
    s = 1 / (1 + np.exp(-np.array([-4.0, 0.5, 2.0])))
    np.testing.assert_allclose(grad, np.array([1.0, 1.0, 0.5]) * (s - [0, 0, 1]) / 3, rtol=1e-5)


def test_losses_are_chosen_by_name_and_an_unknown_name_is_explained():
    assert isinstance(get_loss(ModelConfig(loss="bce")), WeightedBCE)
    with pytest.raises(ValueError, match=r"loss: unknown 'focal'; available: .*bce"):
        get_loss(ModelConfig(loss="focal"))


def test_weighted_bce_round_trips_through_keras_serialization():
    restored = tf.keras.losses.deserialize(tf.keras.losses.serialize(WeightedBCE()))
    assert isinstance(restored, WeightedBCE)
