"""Paired comparisons of each loss against BCE, and verdicts on the paper's findings.

Cells that share the dataset, beta and seed differ only by the loss (and
alpha), so their difference is paired: the seed's own luck (initialisation,
batch order) cancels. For each metric the summary gives the mean and sd over
seeds of both losses, and of the paired differences d = loss - BCE: their mean,
a 95% t interval, the paired t-test p-value and the Wilcoxon signed-rank
p-value (exact for small n: with 5 seeds its smallest two-sided p is 0.0625).

A verdict compares the interval with the paper's effect size delta (docs/SCIENCE.md §6):
- reproduced: the interval lies on the paper's side of 0;
- opposite: it lies on the other side;
- not reproduced: it holds 0, and the minimum detectable effect (80% power,
  two-sided 5%, from the observed sd at this many seeds) is at most delta, so
  an effect as large as the paper's would most likely have shown;
- inconclusive: it holds 0 and the detectable effect is larger than delta.
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


def paired_summary(loss_values: Sequence[float], bce_values: Sequence[float]) -> dict[str, Any]:
    """Statistics of d = loss - bce over paired seeds."""
    a, b = np.asarray(loss_values, np.float64), np.asarray(bce_values, np.float64)
    d = a - b
    n = len(d)
    out: dict[str, Any] = {"n": n, "loss_mean": float(a.mean()), "bce_mean": float(b.mean()),
                           "loss_sd": float(a.std(ddof=1)) if n > 1 else math.nan,
                           "bce_sd": float(b.std(ddof=1)) if n > 1 else math.nan,
                           "diff_mean": float(d.mean()), "diff_sd": float(d.std(ddof=1)) if n > 1 else math.nan}
    if n < 2:
        return {**out, "ci_low": math.nan, "ci_high": math.nan, "t_p": math.nan, "wilcoxon_p": math.nan,
                "detectable_effect": math.nan}
    se = out["diff_sd"] / math.sqrt(n)
    t_crit = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)
    out["ci_low"], out["ci_high"] = out["diff_mean"] - t_crit * se, out["diff_mean"] + t_crit * se
    out["t_p"] = float(stats.ttest_rel(a, b).pvalue) if se > 0 else (1.0 if out["diff_mean"] == 0 else 0.0)
    out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    out["detectable_effect"] = float((t_crit + stats.t.ppf(POWER, n - 1)) * se)
    return out


def verdict(summary: dict[str, Any], direction: int, delta: Optional[float]) -> str:
    """reproduced / opposite / not reproduced / inconclusive (module docstring); n/a below 2 seeds."""
    if summary["n"] < 2 or math.isnan(summary["ci_low"]):
        return "n/a (fewer than 2 seeds)"
    low, high = sorted((direction * summary["ci_low"], direction * summary["ci_high"]))
    if low > 0:
        return "reproduced"
    if high < 0:
        return "opposite"
    if delta is None:
        return "inconclusive (no paper effect to compare)"
    if summary["detectable_effect"] <= delta:
        return "not reproduced"
    return "inconclusive"


def compare_with_bce(cells: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (dataset, beta, loss, alpha) and metric: the paired summary against BCE on the same
    dataset, beta and seeds, and the verdict. Cells without a BCE partner are left out."""
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
            rows.append({"dataset": dataset, "beta": beta, "loss": loss, "alpha": alpha, "metric": metric,
                         "finding": METRICS[metric]["finding"],
                         "seeds": [c["seed"] for c in group], "paper_effect": delta, **summary,
                         "verdict": verdict(summary, METRICS[metric]["direction"], delta)})
    return rows


def benefit_by_beta(comparisons: Sequence[dict[str, Any]], loss: str, metric: str) -> Optional[dict[str, Any]]:
    """RQ1 (the sparser, the larger the benefit): the loss's benefit over BCE (d oriented so that
    positive = better) at the smallest and the largest beta of a dataset, compared by Welch's t-test
    on the per-seed paired differences. None without two betas."""
    rows = [r for r in comparisons if r["loss"] == loss and r["metric"] == metric]
    if len({r["beta"] for r in rows}) < 2:
        return None
    sparse, dense = min(rows, key=lambda r: r["beta"]), max(rows, key=lambda r: r["beta"])
    direction = METRICS[metric]["direction"]
    return {"loss": loss, "metric": metric, "sparse_beta": sparse["beta"], "dense_beta": dense["beta"],
            "sparse_benefit": direction * sparse["diff_mean"], "dense_benefit": direction * dense["diff_mean"],
            "by_beta": {r["beta"]: direction * r["diff_mean"] for r in sorted(rows, key=lambda r: r["beta"])},
            "welch": _welch(sparse, dense, direction)}


def _welch(sparse: dict[str, Any], dense: dict[str, Any], direction: int) -> dict[str, Any]:
    """Welch's interval and p for (sparse benefit - dense benefit) from the two groups' summaries."""
    m1, m2 = direction * sparse["diff_mean"], direction * dense["diff_mean"]
    v1, v2 = sparse["diff_sd"] ** 2 / sparse["n"], dense["diff_sd"] ** 2 / dense["n"]
    result = stats.ttest_ind_from_stats(m1, sparse["diff_sd"], sparse["n"], m2, dense["diff_sd"], dense["n"],
                                        equal_var=False)
    se = math.sqrt(v1 + v2)
    dof = (v1 + v2) ** 2 / (v1 ** 2 / (sparse["n"] - 1) + v2 ** 2 / (dense["n"] - 1)) if se > 0 else 1.0
    t_crit = stats.t.ppf(0.5 + CONFIDENCE / 2, dof)
    diff = m1 - m2
    verdict_text = ("reproduced" if diff - t_crit * se > 0 else "opposite" if diff + t_crit * se < 0
                    else "inconclusive")
    return {"diff": diff, "ci_low": diff - t_crit * se, "ci_high": diff + t_crit * se, "p": float(result.pvalue),
            "verdict": verdict_text}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
