"""Paired statistics and verdicts of `sparsectr experiment` against scipy and hand-made cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sparsectr.experiment_stats import (FINDING4_LOSSES, PAPER_RQ3, adjust_family, compare_with_bce,
                                        equivalence_margin, holm, paired_summary, paper_effect, rq1_rows, tost_p,
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


def _holm_rejects(p_values, level):
    """Holm's procedure as stated: test the smallest p at level/m, the next at level/(m-1), ...,
    stop at the first that fails; the rejected set."""
    order = np.argsort(p_values, kind="stable")
    rejected = set()
    for k, i in enumerate(order):
        if p_values[i] > level / (len(p_values) - k):
            break
        rejected.add(int(i))
    return rejected


def test_holm_adjusted_p_values_reject_what_holms_procedure_rejects():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, float("nan"), 0.01])[2] == pytest.approx(0.02) and np.isnan(holm([0.5, float("nan")])[1])
    rng = np.random.default_rng(1)
    for _ in range(200):
        p = rng.uniform(0, 0.1, rng.integers(1, 12)) ** rng.uniform(1, 3)
        adjusted = np.array(holm(list(p)))
        for level in (0.01, 0.05):
            assert set(np.flatnonzero(adjusted <= level)) == _holm_rejects(p, level)


def test_tost_is_the_larger_of_two_one_sided_scipy_tests():
    d = np.array([0.00003, -0.00002, 0.00005, 0.00001, -0.00001])
    for margin in (0.0001, 0.00003):
        expected = max(stats.ttest_1samp(d, -margin, alternative="greater").pvalue,
                       stats.ttest_1samp(d, margin, alternative="less").pvalue)
        assert tost_p(d, margin) == pytest.approx(expected)
    assert equivalence_margin("excess_logloss") == pytest.approx(0.12152 - 0.12131)  # Combined-Pair's, the largest


def _judged(diffs, direction, delta, family_p=()):
    """A row judged in a family with other verdicts' p-values `family_p`."""
    base = np.linspace(0.7, 0.71, len(diffs))
    row = {**paired_summary(base + np.array(diffs), base), "p_tested": math.nan}
    if row["n"] >= 2:
        row["p_tested"] = row["t_p"]
    others = [{"p_tested": p, "diffs": [0.0, 0.1]} for p in family_p]
    adjust_family([row, *others])
    return verdict(row, direction, delta)


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
    assert _judged(diffs, direction, delta) == expected


def test_a_verdict_rests_on_the_holm_adjusted_p():
    diffs = [0.004, 0.001, 0.006, 0.002, 0.003]
    assert 0.01 < stats.ttest_1samp(diffs, 0).pvalue < 0.05
    assert _judged(diffs, +1, 0.001) == "reproduced"
    # The smallest of five p-values is multiplied by 5: no longer reproduced.
    assert _judged(diffs, +1, 0.001, family_p=[0.5, 0.6, 0.7, 0.8]) == "inconclusive"
    # The largest of five, behind four smaller ones, keeps its p.
    assert _judged(diffs, +1, 0.001, family_p=[0.001, 0.002, 0.003, 0.004]) == "reproduced"


@pytest.mark.parametrize("diffs, expected", [
    ([0.00001, -0.00001, 0.00002, -0.00002, 0.0, 0.00001, -0.00001], "reproduced (equivalent within ±0.00021)"),
    ([0.001, 0.0011, 0.0009, 0.00105, 0.00095], "not reproduced (differs by more than ±0.00021)"),
    ([0.0003, -0.0003, 0.0004, -0.0002, 0.0001], "inconclusive"),
])
def test_no_difference_claims_are_judged_by_equivalence(diffs, expected):
    """Combined-List's logloss: the paper reports no difference; the margin is the paper's largest effect."""
    [row] = compare_with_bce(_cells("bce", 0.1, [0.1] * len(diffs), metric="excess_logloss")
                             + _cells("combined_list", 0.1, list(0.1 + np.array(diffs)), metric="excess_logloss"),
                             ["excess_logloss"])
    assert row["paper_effect"] == 0 and row["tost_p"] == pytest.approx(tost_p(diffs, 0.00021))
    assert row["verdict"] == expected


def test_finding4_is_judged_only_for_the_losses_the_paper_claims_it_for():
    cells = _cells("bce", 0.1, [1.0, 1.1, 1.2], metric="negative_gradient")
    for loss in ("combined_pair", "focal", "jrc"):
        cells += _cells(loss, 0.1, [2.0, 2.2, 2.1], metric="negative_gradient")
    rows = {r["loss"]: r for r in compare_with_bce(cells, ["negative_gradient"])}
    assert "focal" not in FINDING4_LOSSES and "jrc" not in FINDING4_LOSSES
    assert rows["combined_pair"]["verdict"] == "reproduced" and rows["combined_pair"]["family_size"] == 1
    assert rows["focal"]["verdict"].startswith("n/a (not a claim") and "holm_p" not in rows["focal"]


def test_paper_effects_are_the_spec_table_differences():
    assert paper_effect("combined_pair", "auc") == pytest.approx(0.81398 - 0.81321)
    assert paper_effect("combined_pair", "excess_logloss") == pytest.approx(0.12152 - 0.12131)
    assert paper_effect("combined_list", "weighted_logloss") == 0.0
    assert paper_effect("focal", "auc") is None and set(PAPER_RQ3) >= {"bce", "jrc", "rcr", "combined_contrastive"}


def _cells(loss: str, beta: float, values: list[float], dataset: str = "d", metric: str = "auc") -> list[dict]:
    return [{"dataset": dataset, "beta": beta, "loss": loss, "alpha": None, "seed": s, metric: v}
            for s, v in enumerate(values)]


def test_comparisons_pair_by_seed_and_leave_out_cells_without_bce():
    cells = (_cells("bce", 0.1, [0.70, 0.72, 0.71]) + _cells("combined_pair", 0.1, [0.71, 0.74, 0.715])
             + _cells("combined_pair", 0.5, [0.8, 0.8]))  # no BCE at beta 0.5
    cells.reverse()  # order must not matter
    rows = compare_with_bce(cells, ["auc"])
    assert len(rows) == 1 and rows[0]["beta"] == 0.1 and rows[0]["seeds"] == [0, 1, 2]
    assert rows[0]["diff_mean"] == pytest.approx(np.mean([0.01, 0.02, 0.005]))


def test_rq1_is_a_seed_paired_difference_in_differences_against_the_densest_beta():
    bce = {0.05: [0.70, 0.72, 0.71, 0.70], 0.1: [0.71, 0.73, 0.70, 0.72], 1.0: [0.80, 0.81, 0.82, 0.80]}
    pair = {0.05: [0.73, 0.745, 0.735, 0.722], 0.1: [0.72, 0.75, 0.712, 0.735], 1.0: [0.801, 0.809, 0.822, 0.8005]}
    cells = [c for beta in bce for c in _cells("bce", beta, bce[beta]) + _cells("combined_pair", beta, pair[beta])]
    cells += _cells("combined_pair", 0.1, [0.9], dataset="other") + _cells("bce", 0.1, [0.8], dataset="other")
    rows = rq1_rows(compare_with_bce(cells, ["auc"]), ["auc"])
    assert [(r["dataset"], r["beta"], r["dense_beta"]) for r in rows] == [("d", 0.05, 1.0), ("d", 0.1, 1.0)]
    dense_benefit = np.subtract(pair[1.0], bce[1.0])
    p_values = []
    for row, beta in zip(rows, (0.05, 0.1)):
        sparse_benefit = np.subtract(pair[beta], bce[beta])
        assert row["diff_mean"] == pytest.approx((sparse_benefit - dense_benefit).mean())
        assert row["t_p"] == pytest.approx(stats.ttest_rel(sparse_benefit, dense_benefit).pvalue)
        p_values.append(row["t_p"])
    assert [r["holm_p"] for r in rows] == pytest.approx(holm(p_values))
    assert all(r["verdict"] == "reproduced" for r in rows), rows


def test_the_report_shows_holm_p_and_the_rq1_rows():
    from sparsectr.experiment import dataset_name
    from sparsectr.experiment_report import format_summary, summarise

    cells = []
    for beta, shift in ((0.1, 0.02), (1.0, 0.001)):
        for seed, base in enumerate([0.70, 0.72, 0.71]):
            cells += [{"dataset": "d", "beta": beta, "loss": "bce", "alpha": None, "alpha_effective": 1.0,
                       "seed": seed, "auc": base, "weighted_logloss": 0.2},
                      {"dataset": "d", "beta": beta, "loss": "combined_pair", "alpha": None, "alpha_effective": 0.7,
                       "seed": seed, "auc": base + shift + 0.001 * seed * (beta == 1.0),
                       "weighted_logloss": 0.2 - shift}]
    summary = summarise(cells)
    text = format_summary(summary)
    assert "| t-test p | Holm p |" in text and "RQ1, benefit over BCE" in text
    [rq1_auc] = [r for r in summary["rq1"] if r["metric"] == "auc"]
    assert rq1_auc["beta"] == 0.1 and rq1_auc["diff_mean"] == pytest.approx(0.018)
    assert rq1_auc["t_p"] == pytest.approx(stats.ttest_1samp([0.019, 0.018, 0.017], 0).pvalue)
    assert (f"| {dataset_name('d')} | combined_pair | default | auc | 0.1 | +0.02000 | 1 | +0.00200 | +0.01800 |"
            in text), text
    family = [c for c in summary["comparisons"] if "holm_p" in c]
    assert len(family) == 4 and all(c["family_size"] == 4 for c in family)
