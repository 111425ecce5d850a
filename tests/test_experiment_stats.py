"""Paired statistics and verdicts of `sparsectr experiment` against scipy and hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sparsectr.experiment_stats import (PAPER_RQ3, benefit_by_beta, compare_with_bce, paired_summary, paper_effect,
                                        verdict)


def test_paired_summary_matches_scipy():
    rng = np.random.default_rng(0)
    bce = rng.normal(0.75, 0.01, 7)
    loss = bce + rng.normal(0.002, 0.001, 7)
    s = paired_summary(loss, bce)
    d = loss - bce
    assert s["n"] == 7 and s["diff_mean"] == pytest.approx(d.mean()) and s["diff_sd"] == pytest.approx(d.std(ddof=1))
    assert s["t_p"] == pytest.approx(stats.ttest_rel(loss, bce).pvalue)
    assert s["wilcoxon_p"] == pytest.approx(stats.wilcoxon(d).pvalue)
    low, high = stats.t.interval(0.95, 6, loc=d.mean(), scale=stats.sem(d))
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # 80% power: a true effect of exactly the detectable size is found about 80% of the time.
    power = stats.nct.sf(stats.t.ppf(0.975, 6), 6, s["detectable_effect"] / stats.sem(d))
    assert power == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize("diffs, direction, delta, expected", [
    ([0.010, 0.012, 0.011, 0.009, 0.010], +1, 0.001, "reproduced"),
    ([-0.010, -0.012, -0.011, -0.009, -0.010], +1, 0.001, "opposite"),
    ([-0.010, -0.012, -0.011, -0.009, -0.010], -1, 0.001, "reproduced"),  # lower is the claim
    ([0.0001, -0.0001, 0.0002, -0.0002, 0.0], +1, 0.001, "not reproduced"),  # precise, and no effect
    ([0.01, -0.01, 0.02, -0.02, 0.0], +1, 0.001, "inconclusive"),  # too noisy to see 0.001
    ([0.0001, -0.0001, 0.0002, -0.0002, 0.0], +1, None, "inconclusive (no paper effect to compare)"),
    ([0.01], +1, 0.001, "n/a (fewer than 2 seeds)"),
])
def test_verdicts(diffs, direction, delta, expected):
    base = np.linspace(0.7, 0.71, len(diffs))
    assert verdict(paired_summary(base + np.array(diffs), base), direction, delta) == expected


def test_paper_effects_are_the_spec_table_differences():
    assert paper_effect("combined_pair", "auc") == pytest.approx(0.81398 - 0.81321)
    assert paper_effect("combined_pair", "excess_logloss") == pytest.approx(0.12152 - 0.12131)
    assert paper_effect("combined_list", "weighted_logloss") == 0.0
    assert paper_effect("focal", "auc") is None and set(PAPER_RQ3) >= {"bce", "jrc", "rcr", "combined_contrastive"}


def _cells(loss: str, beta: float, values: list[float], dataset: str = "d") -> list[dict]:
    return [{"dataset": dataset, "beta": beta, "loss": loss, "alpha": None, "seed": s, "auc": v}
            for s, v in enumerate(values)]


def test_comparisons_pair_by_seed_and_leave_out_cells_without_bce():
    cells = (_cells("bce", 0.1, [0.70, 0.72, 0.71]) + _cells("combined_pair", 0.1, [0.71, 0.74, 0.715])
             + _cells("combined_pair", 0.5, [0.8, 0.8]))  # no BCE at beta 0.5
    cells.reverse()  # order must not matter
    rows = compare_with_bce(cells, ["auc"])
    assert len(rows) == 1 and rows[0]["beta"] == 0.1 and rows[0]["seeds"] == [0, 1, 2]
    assert rows[0]["diff_mean"] == pytest.approx(np.mean([0.01, 0.02, 0.005]))


def test_rq1_compares_the_sparsest_and_densest_benefit_with_welch():
    cells = (_cells("bce", 0.1, [0.70, 0.72, 0.71, 0.7]) + _cells("combined_pair", 0.1, [0.72, 0.745, 0.73, 0.72])
             + _cells("bce", 1.0, [0.80, 0.81, 0.82]) + _cells("combined_pair", 1.0, [0.801, 0.809, 0.822]))
    result = benefit_by_beta(compare_with_bce(cells, ["auc"]), "combined_pair", "auc")
    sparse = np.array([0.02, 0.025, 0.02, 0.02])
    dense = np.array([0.001, -0.001, 0.002])
    assert result["sparse_benefit"] == pytest.approx(sparse.mean())
    assert result["welch"]["p"] == pytest.approx(stats.ttest_ind(sparse, dense, equal_var=False).pvalue)
    assert result["welch"]["verdict"] == "reproduced"
    assert benefit_by_beta(compare_with_bce(cells[:8], ["auc"]), "combined_pair", "auc") is None
