"""Truth-based metrics against direct NumPy computations of their definitions."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from synthetic.truth_metrics import excess_weighted_logloss, expected_auc, truth_metrics


def _probabilities(n: int, seed: int):
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-2.0, 1.2, n)))
    q = np.clip(p * np.exp(rng.normal(0, 0.4, n)), 1e-4, 0.999)
    return p, q


@pytest.mark.parametrize("beta", [1.0, 0.4, 0.1])
def test_excess_logloss_is_the_expected_weighted_logloss_gap_to_the_optimum(beta):
    """Expectation over each row's label written out: E[w l(q)] - E[w l(p*)], over E[w]."""
    p, q = _probabilities(500, 0)
    weight = beta * p + 1 - p
    optimum = beta * p / weight

    def expected_loss(r):
        return np.sum(beta * p * -np.log(r) + (1 - p) * -np.log(1 - r)) / np.sum(weight)

    expected = expected_loss(q) - expected_loss(optimum)
    assert expected > 0
    np.testing.assert_allclose(excess_weighted_logloss(p, q, beta), expected, rtol=1e-9)
    assert excess_weighted_logloss(p, optimum, beta) == pytest.approx(0.0, abs=1e-15)


def test_excess_logloss_matches_sampled_labels_on_many_rows():
    """With labels drawn from p, sklearn's weighted logloss gap approaches the excess."""
    p, q = _probabilities(400_000, 1)
    y = np.random.default_rng(2).random(len(p)) < p
    w = np.where(y, 0.1, 1.0)
    optimum = 0.1 * p / (0.1 * p + 1 - p)
    sampled = log_loss(y, q, sample_weight=w) - log_loss(y, optimum, sample_weight=w)
    assert excess_weighted_logloss(p, q, 0.1) == pytest.approx(sampled, rel=0.05)


def test_expected_auc_equals_the_pairwise_sum_with_ties():
    p, q = _probabilities(300, 3)
    q = np.round(q, 2)  # many ties
    n = len(p)
    num = den = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                pair = p[i] * (1 - p[j])
                den += pair
                num += pair * (1.0 if q[i] > q[j] else 0.5 if q[i] == q[j] else 0.0)
    np.testing.assert_allclose(expected_auc(p, q), num / den, rtol=1e-12)


def test_expected_auc_is_the_mean_auc_over_label_draws():
    p, q = _probabilities(3000, 4)
    rng = np.random.default_rng(5)
    draws = [roc_auc_score(rng.random(len(p)) < p, q) for _ in range(300)]
    assert expected_auc(p, q) == pytest.approx(np.mean(draws), abs=3 * np.std(draws) / np.sqrt(300) + 1e-3)


def test_the_true_probabilities_have_no_gap_and_a_worse_model_has_one():
    p, q = _probabilities(2000, 6)
    assert truth_metrics(p, p, 1.0)["auc_gap"] == 0.0
    worse = truth_metrics(p, q, 1.0)
    assert worse["auc_gap"] > 0 and worse["excess_logloss"] > 0
    assert worse["expected_auc"] == pytest.approx(worse["bayes_expected_auc"] - worse["auc_gap"])
