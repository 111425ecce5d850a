"""Paired comparisons of each loss against BCE, and verdicts on the paper's findings.

Cells that share the dataset, beta and seed differ only by the loss (and
alpha), so their difference is paired: the seed's own luck (initialisation,
batch order) cancels. For each metric the summary gives the mean and sd over
seeds of both losses, and of the paired differences d = loss - BCE: their mean,
a 95% t interval, the paired t-test p-value and the Wilcoxon signed-rank
p-value (exact for small n: with 5 seeds its smallest two-sided p is 0.0625).

The verdicts of one grid are one family: their p-values are adjusted by
Holm-Bonferroni (`holm`), and a verdict rests on the adjusted p. Beside the
raw 95% interval each row has the Bonferroni interval at 1 - 0.05/m (m
verdicts in the family): when it excludes 0, so does Holm's test. A verdict
compares the result with the paper's effect size delta (docs/SCIENCE.md §6):
- reproduced: adjusted p < 0.05 on the paper's side of 0;
- opposite: adjusted p < 0.05 on the other side;
- not reproduced: adjusted p >= 0.05, and the detectable effect at the
  family's Bonferroni level (80% power) is at most delta, so an effect as
  large as the paper's would most likely have shown;
- inconclusive: adjusted p >= 0.05 and the detectable effect is larger than delta.
Where the paper reports no difference (delta 0: Combined-List's logloss) the
claim is equivalence: two one-sided t-tests (TOST) against the margin
+-EQUIVALENCE_MARGIN of the metric, the largest effect the paper reports on
it; reproduced when the adjusted TOST p < 0.05, not reproduced when the raw
interval lies wholly outside the margin, else inconclusive.
Finding 4 is judged only for the losses the paper claims it for (FINDING4_LOSSES).

RQ1 (the sparser, the larger the benefit) is a seed-paired difference in
differences: per seed, the loss's benefit over BCE at a beta minus its benefit
at the densest beta of the grid, tested against 0 (Holm over the grid's RQ1 rows).
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np
from scipy import stats

# docs/SCIENCE.md §6: RQ3 at beta 0.1 on Criteo_x1 (test AUC, weighted BCE loss) and RQ4.
PAPER_RQ3 = {
    "bce": {"auc": 0.81321, "logloss": 0.12152},
    "combined_pair": {"auc": 0.81398, "logloss": 0.12131},
    "jrc": {"auc": 0.81355, "logloss": 0.12146},
    "combined_list": {"auc": 0.81351, "logloss": 0.12152},
    "rcr": {"auc": 0.81349, "logloss": 0.12141},
    "combined_contrastive": {"auc": 0.81340, "logloss": 0.12147},
}
CONFIDENCE = 0.95
POWER = 0.8
LEVEL = 1 - CONFIDENCE
# docs/SCIENCE.md §1, §4, §6: the paper shows larger gradients on negatives for the pairwise term,
# Combined-List and RCR (its gradient figures) and Combined-Contrastive (RQ4); not for JRC or Focal.
FINDING4_LOSSES = ("combined_pair", "combined_list", "rcr", "combined_contrastive")

# What each finding claims, per metric of a cell: +1 when the loss should be
# higher than BCE, -1 when lower; and which paper effect sizes it is held to.
# auc and weighted_logloss are label-based test metrics; expected_auc and
# excess_logloss are against the true probabilities (generated data only; far
# less evaluation noise); the last two come from the Trainer's run.
METRICS = {
    "auc": {"direction": +1, "paper": "auc", "finding": "RQ3/RQ4: higher AUC"},
    "weighted_logloss": {"direction": -1, "paper": "logloss",
                         "finding": "Finding 1, RQ3/RQ4: lower test BCE"},
    "expected_auc": {"direction": +1, "paper": "auc", "finding": "RQ3/RQ4: higher AUC"},
    "excess_logloss": {"direction": -1, "paper": "logloss",
                       "finding": "Finding 1, RQ3/RQ4: lower test BCE"},
    "train_weighted_logloss": {"direction": -1, "paper": None,
                               "finding": "Finding 2: lower training BCE"},
    "negative_gradient": {"direction": +1, "paper": None,  # with --diagnostics
                          "finding": "Finding 4: larger gradient on negatives"},
}


def paper_effect(loss: str, metric: str) -> Optional[float]:
    """The size of the paper's effect of `loss` over BCE on `metric` (>= 0), or None when the paper has none."""
    key = METRICS[metric]["paper"]
    if key is None or loss not in PAPER_RQ3:
        return None
    return abs(PAPER_RQ3[loss][key] - PAPER_RQ3["bce"][key])


def equivalence_margin(metric: str) -> Optional[float]:
    """The margin of "no difference" on `metric`: the largest effect over BCE the paper reports on it."""
    key = METRICS[metric]["paper"]
    if key is None:
        return None
    return max(abs(v[key] - PAPER_RQ3["bce"][key]) for v in PAPER_RQ3.values())


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down: the k-th smallest times m - k + 1, made
    non-decreasing, at most 1); NaN stays NaN and does not count in m."""
    finite = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (len(finite) - k) * p))
        adjusted[i] = running
    return adjusted


def _t_stats(d: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(mean, standard error, t quantile for a two-sided `confidence` interval) of `d` (n >= 2)."""
    n = len(d)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def tost_p(d: Sequence[float], margin: float) -> float:
    """p of two one-sided t-tests that the mean of `d` lies within (-margin, +margin)."""
    d = np.asarray(d, np.float64)
    mean, se, _ = _t_stats(d, CONFIDENCE)
    if se == 0:
        return 0.0 if abs(mean) < margin else 1.0
    t_low, t_high = (mean + margin) / se, (mean - margin) / se
    return float(max(stats.t.sf(t_low, len(d) - 1), stats.t.cdf(t_high, len(d) - 1)))


def paired_summary(loss_values: Sequence[float], bce_values: Sequence[float]) -> dict[str, Any]:
    """Statistics of d = loss - bce over paired seeds."""
    a, b = np.asarray(loss_values, np.float64), np.asarray(bce_values, np.float64)
    d = a - b
    n = len(d)
    out: dict[str, Any] = {"n": n, "loss_mean": float(a.mean()), "bce_mean": float(b.mean()),
                           "loss_sd": float(a.std(ddof=1)) if n > 1 else math.nan,
                           "bce_sd": float(b.std(ddof=1)) if n > 1 else math.nan,
                           "diff_mean": float(d.mean()), "diff_sd": float(d.std(ddof=1)) if n > 1 else math.nan,
                           "diffs": [float(x) for x in d]}
    if n < 2:
        return {**out, "ci_low": math.nan, "ci_high": math.nan, "t_p": math.nan, "wilcoxon_p": math.nan,
                "detectable_effect": math.nan}
    _, se, t_crit = _t_stats(d, CONFIDENCE)
    out["ci_low"], out["ci_high"] = out["diff_mean"] - t_crit * se, out["diff_mean"] + t_crit * se
    out["t_p"] = float(stats.ttest_rel(a, b).pvalue) if se > 0 else (1.0 if out["diff_mean"] == 0 else 0.0)
    out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    out["detectable_effect"] = float((t_crit + stats.t.ppf(POWER, n - 1)) * se)
    return out


def adjust_family(rows: list[dict[str, Any]], p_key: str = "p_tested") -> None:
    """Holm over the rows that state a verdict (`p_key` set): `holm_p`, and the Bonferroni interval
    (`ci_adjusted_low/high`) and detectable effect at the family's level."""
    family = [r for r in rows if not math.isnan(r.get(p_key, math.nan))]
    for row, adjusted in zip(family, holm([r[p_key] for r in family])):
        row["holm_p"], row["family_size"] = adjusted, len(family)
        d = np.asarray(row["diffs"], np.float64)
        confidence = 1 - LEVEL / len(family)
        mean, se, t_crit = _t_stats(d, confidence)
        row["ci_adjusted_low"], row["ci_adjusted_high"] = mean - t_crit * se, mean + t_crit * se
        row["detectable_effect_adjusted"] = float((t_crit + stats.t.ppf(POWER, len(d) - 1)) * se)


def verdict(row: dict[str, Any], direction: int, delta: Optional[float]) -> str:
    """reproduced / opposite / not reproduced / inconclusive (module docstring) from a row that
    `adjust_family` has adjusted; n/a below 2 seeds or outside the claim."""
    if row["n"] < 2 or math.isnan(row["ci_low"]):
        return "n/a (fewer than 2 seeds)"
    if "holm_p" not in row:
        return "n/a (not a claim of the paper for this loss)"
    significant = row["holm_p"] < LEVEL
    if delta == 0:
        margin = row["equivalence_margin"]
        if significant:
            return f"reproduced (equivalent within ±{margin:.2g})"
        if row["ci_low"] > margin or row["ci_high"] < -margin:
            return f"not reproduced (differs by more than ±{margin:.2g})"
        return "inconclusive"
    if significant:
        return "reproduced" if direction * row["diff_mean"] > 0 else "opposite"
    if delta is None:
        return "inconclusive (no paper effect to compare)"
    if row["detectable_effect_adjusted"] <= delta:
        return "not reproduced"
    return "inconclusive"


def claimed(loss: str, metric: str) -> bool:
    """Whether the paper claims `metric`'s finding for `loss` (Finding 4: FINDING4_LOSSES only)."""
    return metric != "negative_gradient" or loss in FINDING4_LOSSES


def compare_with_bce(cells: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (dataset, beta, loss, alpha) and metric: the paired summary against BCE on the same
    dataset, beta and seeds, and the verdict, Holm-adjusted over all the rows (one grid is one
    family). Cells without a BCE partner are left out."""
    bce = {(c["dataset"], c["beta"], c["seed"]): c for c in cells if c["loss"] == "bce"}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for c in cells:
        if c["loss"] != "bce" and (c["dataset"], c["beta"], c["seed"]) in bce:
            groups.setdefault((c["dataset"], c["beta"], c["loss"], c["alpha"]), []).append(c)
    rows = []
    for (dataset, beta, loss, alpha), group in sorted(groups.items()):
        group.sort(key=lambda c: c["seed"])
        for metric in metrics:
            pairs = [(c[metric], bce[(dataset, beta, c["seed"])][metric]) for c in group
                     if _finite(c.get(metric)) and _finite(bce[(dataset, beta, c["seed"])].get(metric))]
            if not pairs:
                continue
            summary = paired_summary([p[0] for p in pairs], [p[1] for p in pairs])
            delta = paper_effect(loss, metric)
            row = {"dataset": dataset, "beta": beta, "loss": loss, "alpha": alpha, "metric": metric,
                   "finding": METRICS[metric]["finding"], "seeds": [c["seed"] for c in group
                                                                     if _finite(c.get(metric))],
                   "paper_effect": delta, **summary, "p_tested": math.nan}
            if summary["n"] >= 2 and claimed(loss, metric):
                row["p_tested"] = summary["t_p"]
                if delta == 0:
                    row["equivalence_margin"] = equivalence_margin(metric)
                    row["tost_p"] = row["p_tested"] = tost_p(summary["diffs"], row["equivalence_margin"])
            rows.append(row)
    adjust_family(rows)
    for row in rows:
        row["verdict"] = verdict(row, METRICS[row["metric"]]["direction"], row["paper_effect"])
    return rows


def rq1_rows(comparisons: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """RQ1 as a seed-paired difference in differences, per dataset, loss, alpha and metric: at each
    beta but the densest, per seed, the loss's benefit over BCE (positive = better) minus its
    benefit at the densest beta; its mean, intervals and p, Holm-adjusted over all the rows."""
    by_group: dict[tuple, dict[float, dict[str, Any]]] = {}
    for r in comparisons:
        if r["metric"] in metrics:
            by_group.setdefault((r["dataset"], r["loss"], r["alpha"], r["metric"]), {})[r["beta"]] = r
    rows = []
    for (dataset, loss, alpha, metric), by_beta in sorted(by_group.items(), key=lambda kv: str(kv[0])):
        if len(by_beta) < 2:
            continue
        direction = METRICS[metric]["direction"]
        dense = by_beta[max(by_beta)]
        dense_benefit = {s: direction * d for s, d in zip(dense["seeds"], dense["diffs"])}
        for beta in sorted(b for b in by_beta if b != max(by_beta)):
            sparse = by_beta[beta]
            pairs = [(direction * d, dense_benefit[s]) for s, d in zip(sparse["seeds"], sparse["diffs"])
                     if s in dense_benefit]
            summary = paired_summary([p[0] for p in pairs], [p[1] for p in pairs])
            rows.append({"dataset": dataset, "loss": loss, "alpha": alpha, "metric": metric, "beta": beta,
                         "dense_beta": max(by_beta), "n": summary["n"], "sparse_benefit": summary["loss_mean"],
                         "dense_benefit": summary["bce_mean"], "diff_mean": summary["diff_mean"],
                         "diffs": summary["diffs"], "ci_low": summary["ci_low"], "ci_high": summary["ci_high"],
                         "t_p": summary["t_p"], "p_tested": summary["t_p"]})
    adjust_family(rows)
    for row in rows:
        significant = row.get("holm_p", math.nan) < LEVEL
        row["verdict"] = ("n/a (fewer than 2 seeds)" if row["n"] < 2 else
                          ("reproduced" if row["diff_mean"] > 0 else "opposite") if significant else "inconclusive")
    return rows


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
