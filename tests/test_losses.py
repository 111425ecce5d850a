"""Every loss against a NumPy reference written from docs/SCIENCE.md §3 (float64,
plain loops where the formula has them), its gradient against finite
differences of that reference, and the paper's analytic statements."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.hparams import ModelConfig
from models.losses import (JRC, LOSSES, RCR, CombinedContrastive, CombinedList, CombinedPair, Focal,
                           WeightedBCE, get_loss, supervised_contrastive)

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


def np_jrc(y, out, w, alpha):
    d, z0 = out[:, 0], out[:, 1]
    z1 = d + z0
    z_y = np.where(y == 1, z1, z0)
    calib = -np.mean(w * (z_y - np.logaddexp(z0, z1)))

    def log_sum(z):
        m = z.max()
        return m + np.log(np.sum(w * np.exp(z - m)))

    log_d = np.where(y == 1, log_sum(z1), log_sum(z0))
    rank = -np.mean(w * (z_y - log_d))
    return alpha * calib + (1 - alpha) * rank


def np_supcon(y, h, tau, anchors=None):
    n = len(y)
    anchors = range(n) if anchors is None else anchors
    total = 0.0
    for i in anchors:
        others = [a for a in range(n) if a != i]
        same = [s for s in others if y[s] == y[i]]
        if not same:
            continue
        logits = np.array([h[i] @ h[a] / tau for a in others])
        m = logits.max()
        log_denominator = m + np.log(np.sum(np.exp(logits - m)))
        total += -np.mean([h[i] @ h[s] / tau - log_denominator for s in same])
    return total / len(anchors)


TAU = 0.2


def _single(reference):
    return lambda y, out, w: reference(y, out[:, 0], w)


# name: (loss object, NumPy reference on the model output [N, K], K)
REFERENCES = {
    "bce": (lambda: WeightedBCE(), _single(np_bce), 1),
    "combined_pair": (lambda: CombinedPair(alpha=ALPHA),
                      _single(lambda y, z, w: ALPHA * np_bce(y, z, w) + (1 - ALPHA) * np_pair(y, z)), 1),
    "combined_list": (lambda: CombinedList(alpha=ALPHA),
                      _single(lambda y, z, w: ALPHA * np_bce(y, z, w) + (1 - ALPHA) * np_listwise(y, z, w)), 1),
    "rcr": (lambda: RCR(alpha=ALPHA),
            _single(lambda y, z, w: ALPHA * np_bce(y, z, w) + (1 - ALPHA) * np_listwise(y, log_sigmoid(z), w)), 1),
    "focal": (lambda: Focal(gamma=GAMMA), _single(lambda y, z, w: np_focal(y, z, w, GAMMA)), 1),
    "jrc": (lambda: JRC(alpha=ALPHA), lambda y, out, w: np_jrc(y, out, w, ALPHA), 2),
    "combined_contrastive": (
        lambda: CombinedContrastive(alpha=ALPHA, tau=TAU),
        lambda y, out, w: ALPHA * np_bce(y, out[:, 0], w) + (1 - ALPHA) * np_supcon(y, out[:, 1:], TAU), 5),
}


def _batch(positive_rate: float, extreme: bool, beta: float, width: int = 1, n: int = 300, seed: int = 0):
    """Labels, model output [n, width] and weights. Extra columns: JRC's z0 (same
    scale as the logits) or, for wider heads, unit-norm projections."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(np.float64)
    if positive_rate in (0.0, 1.0):
        y[:] = positive_rate

    def logits():
        return rng.choice([-80.0, 80.0, -30.0, 0.0], size=n) if extreme else rng.normal(-2.0, 2.0, size=n)

    columns = [logits()]
    if width == 2:
        columns.append(logits())
    elif width > 2:
        h = rng.normal(size=(n, width - 1))
        columns += list((h / np.linalg.norm(h, axis=1, keepdims=True)).T)
    w = np.where(y == 1, beta, 1.0)
    return y, np.stack(columns, axis=1), w


BATCHES = [(rate, extreme, beta) for rate in (0.03, 0.25, 0.0, 1.0) for extreme in (False, True)
           for beta in (1.0, 0.1)]


def test_every_registered_loss_has_a_reference():
    assert set(LOSSES) == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("rate,extreme,beta", BATCHES)
def test_loss_matches_numpy_reference(name, rate, extreme, beta):
    make, reference, width = REFERENCES[name]
    y, out, w = _batch(rate, extreme, beta, width)
    expected = reference(y, out, w)
    got = float(make()(y.reshape(-1, 1).astype(np.float32), out.astype(np.float32), sample_weight=w.astype(np.float32)))
    assert np.isfinite(got)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("rate,beta", [(0.03, 1.0), (0.25, 0.1), (0.0, 1.0), (1.0, 0.1)])
def test_gradient_matches_finite_differences_of_the_reference(name, rate, beta):
    make, reference, width = REFERENCES[name]
    y, out, w = _batch(rate, extreme=False, beta=beta, width=width, n=40, seed=1)
    output = tf.Variable(out)  # float64: the TF loss runs in the output's dtype
    with tf.GradientTape() as tape:
        loss = make()(y, output, sample_weight=w)
    grad = tape.gradient(loss, output).numpy()
    eps = 1e-6
    numeric = np.zeros_like(out)
    for index in np.ndindex(*out.shape):
        step = np.zeros_like(out)
        step[index] = eps
        numeric[index] = (reference(y, out + step, w) - reference(y, out - step, w)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_bce_gradient_on_a_negative_is_its_weighted_probability_over_n():
    y, out, w = _batch(0.03, extreme=False, beta=0.1, n=500, seed=2)
    z = out[:, 0]
    logits = tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = WeightedBCE()(y, logits, sample_weight=w)
    grad = tape.gradient(loss, logits).numpy()
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(grad[y == 0], w[y == 0] * p[y == 0] / len(y), rtol=1e-10)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_combined_pair_adds_the_pairwise_term_to_each_negatives_gradient(seed, alpha):
    """Finding 4 (docs/SCIENCE.md §1) on logits of both signs: the gradient of Combined-Pair on
    negative j is alpha * w_j * p_j / N (BCE's, scaled) plus (1 - alpha) / (N+ N-) * sum over
    positives i of sigmoid(z_j - z_i). A RankNet with the pair's sign swapped (sigmoid(z_i - z_j)),
    or normalised by N instead of N+ N-, gives other gradients on these logits: the check fails it.
    Where the paper's regime holds (few positives, negatives' p small), the added term is larger
    than BCE's whole gradient on every negative."""
    rng = np.random.default_rng(seed)
    n = 512
    y = (rng.random(n) < 0.03).astype(np.float64)
    y[:3] = 1.0
    z = rng.normal(0.0, 3.0, size=n)
    w = np.where(y == 1, 0.1, 1.0)
    logits = tf.Variable(z)
    with tf.GradientTape() as tape:
        value = CombinedPair(alpha=alpha)(y, logits, sample_weight=w)
    grad = tape.gradient(value, logits).numpy()
    neg, pos = z[y == 0], z[y == 1]
    pairwise = _sigmoid(neg[:, None] - pos[None, :]).sum(axis=1) / (len(pos) * len(neg))
    bce = w[y == 0] * _sigmoid(neg) / n
    np.testing.assert_allclose(grad[y == 0], alpha * bce + (1 - alpha) * pairwise, rtol=1e-9)
    assert (neg > 0).mean() > 0.3  # mixed signs: not only the regime where the inequality is automatic
    for wrong in (_sigmoid(pos[None, :] - neg[:, None]).sum(axis=1) / (len(pos) * len(neg)),
                  _sigmoid(neg[:, None] - pos[None, :]).sum(axis=1) / n):
        assert np.max(np.abs(alpha * bce + (1 - alpha) * wrong - grad[y == 0]) / np.abs(grad[y == 0])) > 0.05
    sparse_regime = neg < -2.0
    assert np.all(pairwise[sparse_regime] > bce[sparse_regime])


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


def test_contrastive_term_over_given_anchors_matches_numpy():
    """The cost bound: anchors are a subset, pairs and denominators span the batch."""
    y, out, _ = _batch(0.25, extreme=False, beta=1.0, width=5, n=120, seed=4)
    anchors = np.random.default_rng(5).choice(120, size=30, replace=False).astype(np.int32)
    got = float(supervised_contrastive(tf.constant(y), tf.constant(out[:, 1:]), TAU, tf.constant(anchors)))
    np.testing.assert_allclose(got, np_supcon(y, out[:, 1:], TAU, anchors), rtol=1e-10)


def test_sampled_anchors_estimate_the_full_contrastive_loss_without_bias():
    y, out, w = _batch(0.03, extreme=False, beta=0.1, width=5, n=200, seed=6)
    exact = float(CombinedContrastive(alpha=ALPHA, tau=TAU)(y, out, sample_weight=w))
    bounded = CombinedContrastive(alpha=ALPHA, tau=TAU, anchors=50)
    assert float(CombinedContrastive(alpha=ALPHA, tau=TAU, anchors=200)(y, out, sample_weight=w)) == exact
    tf.random.set_seed(0)
    draws = np.array([float(bounded(y, out, sample_weight=w)) for _ in range(400)])
    assert draws.std() > 0  # a different subset each call
    assert abs(draws.mean() - exact) < 4 * draws.std() / np.sqrt(len(draws))
    assert get_loss(ModelConfig(loss="combined_contrastive", contrastive_anchors=50)).anchors == 50


PAPER_ALPHA = {"combined_list": 0.9, "rcr": 0.9, "jrc": 0.4, "combined_contrastive": 0.5}
PAPER_PAIR_ALPHA = {0.1: 0.7, 0.2: 0.6, 0.4: 0.8, 0.6: 0.7, 0.8: 0.9, 1.0: 0.9}


@pytest.mark.parametrize("name", sorted(set(LOSSES) - {"bce", "focal"}))
@pytest.mark.parametrize("beta", [0.1, 0.3, 1.0])
def test_a_ranking_loss_chosen_without_alpha_has_a_ranking_term(name, beta):
    """`--loss X` alone must train X, not BCE: the loss minus its BCE part, alpha * (the same loss at
    alpha 1), is (1 - alpha) * L_rank, and L_rank > 0 on a batch with both classes."""
    config = ModelConfig(loss=name, beta=beta)
    alpha = config.effective_alpha
    assert alpha == (PAPER_PAIR_ALPHA[{0.3: 0.2}.get(beta, beta)] if name == "combined_pair" else PAPER_ALPHA[name])
    y, out, w = _batch(0.1, extreme=False, beta=beta, width=REFERENCES[name][2], n=64, seed=1)
    combined = float(get_loss(config)(y, out, sample_weight=w))
    bce_only = float(get_loss(ModelConfig(loss=name, beta=beta, alpha=1.0))(y, out, sample_weight=w))
    assert combined - alpha * bce_only > 1e-3


def test_the_effective_alpha_is_recorded_and_a_copy_with_another_loss_gets_that_loss_default():
    import dataclasses

    bce = ModelConfig(beta=0.1)
    assert bce.effective_alpha == 1.0 and bce.to_dict()["alpha"] == 1.0
    pair = dataclasses.replace(bce, loss="combined_pair")
    assert pair.to_dict()["alpha"] == 0.7 and pair.alpha_source() == "tuned default at beta 0.1"
    assert ModelConfig.from_dict(pair.to_dict()).effective_alpha == 0.7
    given = ModelConfig(loss="combined_pair", alpha=0.25)
    assert given.to_dict()["alpha"] == 0.25 and given.alpha_source() == "given"
    unused = ModelConfig(loss="focal", alpha=0.25)  # no auxiliary term to weigh: said, not silently kept
    assert unused.to_dict()["alpha"] == 1.0 and unused.alpha_source() == "no auxiliary term; the given 0.25 is not used"


@pytest.mark.parametrize("name", sorted(set(LOSSES) - {"bce", "focal"}))
def test_the_command_line_without_alpha_trains_the_ranking_loss(name):
    from sparsectr.cli import _model_config, build_parser

    config = _model_config(build_parser().parse_args(["run", "--loss", name, "--beta", "0.1"]))
    assert 0.0 < config.effective_alpha < 1.0
    assert get_loss(config).alpha == config.effective_alpha


def test_every_loss_has_a_default_alpha_and_only_bce_and_focal_default_to_plain_bce():
    from models.hparams import AUXILIARY_LOSSES, DEFAULT_ALPHA

    assert set(DEFAULT_ALPHA) == set(LOSSES)
    assert set(LOSSES) - set(AUXILIARY_LOSSES) == {"bce", "focal"}
