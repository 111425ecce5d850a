"""Metrics against the true click probabilities of generated rows.

Label-based AUC and logloss on N test rows carry the noise of N coin flips;
with the generator's true probabilities p the expectation over those flips can
be taken exactly, which leaves only the model's own error. For predictions q:

- excess weighted logloss: the expected beta-weighted logloss of q minus that
  of the Bayes-optimal predictor. A positive weighs beta, so the expected
  weight of a row is m = beta p + 1 - p and the optimum is p* = beta p / m;
  the excess is sum_i m_i KL(p*_i || q_i) / sum_i m_i (mean KL(p || q) at beta 1);
- expected AUC: the share of (positive, negative) pairs ranked right, each pair
  (i, j) counted with the probability p_i (1 - p_j) that i clicks and j does
  not (ties count one half); the gap of q is expected AUC(p) - expected AUC(q).
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _bernoulli_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    q = np.clip(q, _EPS, 1 - _EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(p > 0, p * np.log(p / q), 0.0)
        neg = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return pos + neg


def excess_weighted_logloss(true_p: np.ndarray, predicted: np.ndarray, beta: float = 1.0) -> float:
    """Expected beta-weighted logloss of `predicted` minus the Bayes optimum's (>= 0)."""
    true_p, predicted = np.asarray(true_p, np.float64), np.asarray(predicted, np.float64)
    weight = beta * true_p + 1 - true_p
    optimum = beta * true_p / weight
    return float(np.sum(weight * _bernoulli_kl(optimum, predicted)) / np.sum(weight))


def expected_auc(true_p: np.ndarray, scores: np.ndarray) -> float:
    """AUC of `scores` in expectation over labels drawn from `true_p` (pairs weighted p_i (1 - p_j), i != j)."""
    p = np.asarray(true_p, np.float64)
    order = np.argsort(scores, kind="stable")
    s, p = np.asarray(scores)[order], p[order]
    neg = 1 - p
    # Each run of equal scores: the negative mass strictly below it, and its own.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    group_neg = np.add.reduceat(neg, starts)
    below = np.r_[0.0, np.cumsum(group_neg)[:-1]]
    concordant = np.sum(p * (below[group] + 0.5 * (group_neg[group] - neg)))
    pairs = np.sum(p * (neg.sum() - neg))
    return float(concordant / pairs)


def truth_metrics(true_p: np.ndarray, predicted: np.ndarray, beta: float) -> dict[str, float]:
    """The excess weighted logloss and the expected-AUC gap of `predicted`, and the Bayes optimum's expected AUC."""
    best = expected_auc(true_p, true_p)
    return {"excess_logloss": excess_weighted_logloss(true_p, predicted, beta),
            "expected_auc": expected_auc(true_p, predicted), "bayes_expected_auc": best,
            "auc_gap": best - expected_auc(true_p, predicted)}
