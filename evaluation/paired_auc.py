"""Two models' AUCs on the same rows, their difference and its paired DeLong standard error.

Scored on the same rows, two models' AUCs are correlated: the rows that are hard for one tend to be
hard for the other. DeLong, DeLong & Clarke-Pearson (1988) give the covariance of the two
Mann-Whitney AUCs from each row's placements (a positive's share of negatives scored below it, a
negative's share of positives scored above it, ties half), so the standard error of the difference
is that of paired samples, usually far smaller than the two single SEs combined as if independent.
Placements come from mid-ranks: O(n log n), no pair matrix.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats


@dataclasses.dataclass(frozen=True)
class PairedAUC:
    auc: float  # the first model's
    other_auc: float  # the second model's
    difference: float  # auc - other_auc
    standard_error: float  # of the difference, paired; NaN with fewer than 2 rows of either class


def _placements(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each positive's share of negatives below it, each negative's share of positives above it), ties half."""
    positive = y == 1
    ranks = stats.rankdata(p)  # mid-ranks among all rows
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    below_positive = ranks[positive] - stats.rankdata(p[positive])  # negatives below (ties half)
    below_negative = ranks[~positive] - stats.rankdata(p[~positive])  # positives below (ties half)
    return below_positive / n_neg, 1.0 - below_negative / n_pos


def paired_auc(labels, scores, other_scores) -> PairedAUC:
    """The AUCs of `scores` and `other_scores` against 0/1 `labels` on the same rows, and the paired SE of
    their difference."""
    y = np.asarray(labels).astype(np.int64).ravel()
    p, q = (np.asarray(s, np.float64).ravel() for s in (scores, other_scores))
    if not (len(y) == len(p) == len(q)):
        raise ValueError(f"paired_auc: {len(y)} labels, {len(p)} and {len(q)} scores; score the same rows")
    if not (0 < y.sum() < len(y)):
        return PairedAUC(math.nan, math.nan, math.nan, math.nan)
    (v10_p, v01_p), (v10_q, v01_q) = _placements(y, p), _placements(y, q)
    auc_p, auc_q = float(v10_p.mean()), float(v10_q.mean())
    if min(len(v10_p), len(v01_p)) < 2:
        return PairedAUC(auc_p, auc_q, auc_p - auc_q, math.nan)
    variance = np.var(v10_p - v10_q, ddof=1) / len(v10_p) + np.var(v01_p - v01_q, ddof=1) / len(v01_p)
    return PairedAUC(auc_p, auc_q, auc_p - auc_q, float(math.sqrt(variance)))
