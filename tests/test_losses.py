"""Every loss against a NumPy reference written from SPEC section 3 (float64,
plain loops where the formula has them), its gradient against finite
differences of that reference, and the SPEC's analytic statements."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.hparams import ModelConfig
from models.losses import LOSSES, RCR, CombinedList, CombinedPair, Focal, WeightedBCE, get_loss

ALPHA, GAMMA = 0.3, 2.0


def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def np_bce(y, z, w):
    return np.mean(w * (np.logaddexp(0.0, z) - y * z))


def np_pair(y, z):
    pos, neg = z[y == 1], z[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return 0.0
    total = sum(-log_sigmoid(zi - zj) for zi in pos for zj in neg)
    return total / (len(pos) * len(neg))


def np_listwise(y, log_s, w):
    """mean over positives of -log(s_i / D), D = sum_k w_k s_k, from log s."""
    if y.sum() == 0 or y.sum() == len(y):
        return 0.0
    m = log_s.max()
    log_d = m + np.log(np.sum(w * np.exp(log_s - m)))
    return np.mean([-(log_s[i] - log_d) for i in range(len(y)) if y[i] == 1])


def np_focal(y, z, w, gamma):
    p = 1 / (1 + np.exp(-z))
    factor = np.where(y == 1, (1 - p) ** gamma, p ** gamma)
    if (y == 0).any():
        factor = np.where(y == 0, factor / factor[y == 0].mean(), factor)
    return np.mean(w * factor * (np.logaddexp(0.0, z) - y * z))


REFERENCES = {
    "bce": (lambda: WeightedBCE(), lambda y, z, w: np_bce(y, z, w)),
    "combined_pair": (lambda: CombinedPair(alpha=ALPHA),
                      lambda y, z, w: ALPHA * np_bce(y, z, w) + (1 - ALPHA) * np_pair(y, z)),
    "combined_list": (lambda: CombinedList(alpha=ALPHA),
                      lambda y, z, w: ALPHA * np_bce(y, z, w) + (1 - ALPHA) * np_listwise(y, z, w)),
    "rcr": (lambda: RCR(alpha=ALPHA),
            lambda y, z, w: ALPHA * np_bce(y, z, w) + (1 - ALPHA) * np_listwise(y, log_sigmoid(z), w)),
    "focal": (lambda: Focal(gamma=GAMMA), lambda y, z, w: np_focal(y, z, w, GAMMA)),
}


def _batch(positive_rate: float, extreme: bool, beta: float, n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(np.float64)
    if positive_rate in (0.0, 1.0):
        y[:] = positive_rate
    z = rng.choice([-80.0, 80.0, -30.0, 0.0], size=n) if extreme else rng.normal(-2.0, 2.0, size=n)
    w = np.where(y == 1, beta, 1.0)
    return y, z, w


BATCHES = [(rate, extreme, beta) for rate in (0.03, 0.25, 0.0, 1.0) for extreme in (False, True)
           for beta in (1.0, 0.1)]


def test_every_registered_loss_has_a_reference():
    assert set(LOSSES) == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("rate,extreme,beta", BATCHES)
def test_loss_matches_numpy_reference(name, rate, extreme, beta):
    make, reference = REFERENCES[name]
    y, z, w = _batch(rate, extreme, beta)
    expected = reference(y, z, w)
    got = float(make()(y.reshape(-1, 1).astype(np.float32), z.reshape(-1, 1).astype(np.float32),
                       sample_weight=w.astype(np.float32)))
    assert np.isfinite(got)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("rate,beta", [(0.03, 1.0), (0.25, 0.1), (0.0, 1.0), (1.0, 0.1)])
def test_gradient_matches_finite_differences_of_the_reference(name, rate, beta):
    make, reference = REFERENCES[name]
    y, z, w = _batch(rate, extreme=False, beta=beta, n=40, seed=1)
    logits = tf.Variable(z)  # float64: the TF loss runs in the logits' dtype
    with tf.GradientTape() as tape:
        loss = make()(y, logits, sample_weight=w)
    grad = tape.gradient(loss, logits).numpy()
    eps = 1e-6
    numeric = np.array([(reference(y, z + eps * e, w) - reference(y, z - eps * e, w)) / (2 * eps)
                        for e in np.eye(len(z))])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_bce_gradient_on_a_negative_is_its_weighted_probability_over_n():
    y, z, w = _batch(0.03, extreme=False, beta=0.1, n=500, seed=2)
    logits = tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = WeightedBCE()(y, logits, sample_weight=w)
    grad = tape.gradient(loss, logits).numpy()
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(grad[y == 0], w[y == 0] * p[y == 0] / len(y), rtol=1e-10)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_combined_pair_gradient_on_every_negative_exceeds_bce(seed, alpha):
    """Finding 4: with sparse positives and CTR-like (negative) logits, the
    RankNet term lifts every negative's gradient above BCE's."""
    rng = np.random.default_rng(seed)
    n = 4096
    y = (rng.random(n) < 0.03).astype(np.float64)
    z = np.minimum(rng.normal(-3.5, 1.0, size=n) + 1.0 * y, -0.01)
    w = np.where(y == 1, 0.1, 1.0)
    grads = {}
    for name, loss in (("bce", WeightedBCE()), ("pair", CombinedPair(alpha=alpha))):
        logits = tf.Variable(z)
        with tf.GradientTape() as tape:
            value = loss(y, logits, sample_weight=w)
        grads[name] = np.abs(tape.gradient(value, logits).numpy()[y == 0])
    assert np.all(grads["pair"] > grads["bce"])


def test_losses_are_chosen_by_name_with_their_settings():
    assert isinstance(get_loss(ModelConfig(loss="bce")), WeightedBCE)
    pair = get_loss(ModelConfig(loss="combined_pair", alpha=0.7))
    assert isinstance(pair, CombinedPair) and pair.alpha == 0.7
    assert get_loss(ModelConfig(loss="focal", gamma=1.5)).gamma == 1.5
    with pytest.raises(ValueError, match=r"loss: unknown 'hinge'; available: .*combined_pair"):
        get_loss(ModelConfig(loss="hinge"))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_losses_round_trip_through_keras_serialization(name):
    loss = REFERENCES[name][0]()
    restored = tf.keras.losses.deserialize(tf.keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
