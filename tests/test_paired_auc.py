"""The paired AUC difference against the full pair matrix and DeLong's covariance written out."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from evaluation.paired_auc import paired_auc
from numpy_references import delong


def _delong_paired_reference(y, p, q):
    """DeLong's covariance matrix of two AUCs from the pair matrices, as in the 1988 paper: S = S10/m + S01/n,
    var(AUC_p - AUC_q) = S_pp + S_qq - 2 S_pq."""
    def psi(s):
        pos, neg = s[y == 1], s[y == 0]
        return (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    a, b = psi(p), psi(q)
    v10, v01 = np.stack([a.mean(axis=1), b.mean(axis=1)]), np.stack([a.mean(axis=0), b.mean(axis=0)])
    s = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    return a.mean() - b.mean(), np.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])


@pytest.mark.parametrize("seed", range(4))
def test_difference_and_paired_se_match_the_pair_matrix(seed):
    rng = np.random.default_rng(seed)
    n = 600
    y = (rng.random(n) < 0.1).astype(int)
    base = rng.normal(size=n) + 1.2 * y
    p = 1 / (1 + np.exp(-(base + rng.normal(scale=0.5, size=n))))
    q = 1 / (1 + np.exp(-(base + rng.normal(scale=0.8, size=n))))
    q[:50] = np.round(q[:50], 1)  # ties inside and across classes
    result = paired_auc(y, p, q)
    difference, se = _delong_paired_reference(y, p, q)
    assert result.auc == pytest.approx(roc_auc_score(y, p)) and result.other_auc == pytest.approx(roc_auc_score(y, q))
    assert result.difference == pytest.approx(difference) and result.standard_error == pytest.approx(se)
    # Correlated models: the paired SE is well below the two single SEs combined as if independent.
    independent = np.hypot(delong(y, p)[1], delong(y, q)[1])
    assert result.standard_error < 0.8 * independent


def test_the_same_scores_differ_by_zero_and_one_class_gives_nan():
    rng = np.random.default_rng(0)
    y, p = (rng.random(200) < 0.2).astype(int), rng.random(200)
    same = paired_auc(y, p, p)
    assert same.difference == 0 and same.standard_error == 0
    assert np.isnan(paired_auc(np.zeros(10), rng.random(10), rng.random(10)).auc)
    with pytest.raises(ValueError, match="score the same rows"):
        paired_auc(y, p, p[:-1])
