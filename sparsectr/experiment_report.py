"""The results of `sparsectr experiment`: the cell table (CSV, JSON), the paired
comparisons with BCE and their verdicts (JSON, Markdown), and PNG plots:

- metrics_by_beta.png: per dataset, AUC and weighted logloss (and on generated
  data expected AUC and excess logloss) against beta, one line per loss, mean
  over seeds with +-1 sd error bars;
- paired_differences.png: per dataset and beta, each loss minus BCE on the same
  seeds, mean and 95% interval, with the paper's difference as a marker;
- gradients_<dataset>_beta<b>/<loss>/: the gradient diagnostics of BCE beside
  each other loss at the first seed (sparsectr/diagnostics_plots.py), when
  the cells ran with --diagnostics.
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Any, Optional, Sequence

import numpy as np

from sparsectr.diagnostics_plots import save_figure
from sparsectr.experiment import SETTINGS_FILE, dataset_name
from sparsectr.experiment_stats import METRICS, PAPER_RQ3, compare_with_bce, rq1_rows

RESULTS_CSV = "results.csv"
RESULTS_JSON = "results.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
COLUMNS = ("dataset", "beta", "loss", "alpha", "alpha_effective", "seed", "auc", "auc_standard_error",
           "weighted_logloss", "logloss", "calibration", "expected_auc", "bayes_expected_auc", "auc_gap",
           "excess_logloss", "train_weighted_logloss", "negative_gradient", "best_epoch", "epochs", "train_seconds",
           "evaluate_seconds", "test_examples", "trainer_execution", "evaluator_execution")
# Label-based and truth-based metrics, in the order tables show them.
LABEL_METRICS = ("auc", "weighted_logloss")
TRUTH_METRICS = ("expected_auc", "excess_logloss")
OTHER_METRICS = ("train_weighted_logloss", "negative_gradient")


def has_truth(cells: Sequence[dict[str, Any]]) -> bool:
    return any("expected_auc" in c for c in cells)


def verdict_metrics(cells: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The metrics verdicts rest on: against the true probabilities on generated data (no label noise),
    else the label-based test metrics."""
    return TRUTH_METRICS if has_truth(cells) else LABEL_METRICS


def write_results(cells: Sequence[dict[str, Any]], out_dir: str) -> list[str]:
    """results.csv (one row per cell, bucket AUCs as `auc <bucket>` columns) and results.json (all fields)."""
    buckets = sorted({b for c in cells for b in c.get("bucket_auc", {})}, key=_bucket_order)
    csv_path = os.path.join(out_dir, RESULTS_CSV)
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*COLUMNS, *(f"auc {b}" for b in buckets)])
        for c in _ordered(cells):
            row = [dataset_name(c["dataset"]) if k == "dataset" else c.get(k, "") for k in COLUMNS]
            row = ["default" if (k == "alpha" and v is None) else v for k, v in zip(COLUMNS, row)]
            writer.writerow([*row, *(c.get("bucket_auc", {}).get(b, {}).get("auc", "") for b in buckets)])
    json_path = os.path.join(out_dir, RESULTS_JSON)
    with open(json_path, "w") as f:
        json.dump(list(_ordered(cells)), f, indent=1, sort_keys=True)
    return [csv_path, json_path]


def summarise(cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Paired comparisons with BCE on every metric present, verdicts on the chosen metrics, and RQ1."""
    metrics = [m for m in (*LABEL_METRICS, *TRUTH_METRICS, *OTHER_METRICS) if any(m in c for c in cells)]
    comparisons = compare_with_bce(cells, metrics)
    rq1 = rq1_rows(comparisons, verdict_metrics(cells))
    return {"verdict_metrics": list(verdict_metrics(cells)), "comparisons": comparisons, "rq1": rq1,
            "per_loss": _per_loss(cells, metrics)}


def provenance(cells: Sequence[dict[str, Any]], out_dir: str) -> dict[str, Any]:
    """What the summary was computed from: the commits its cells ran on (with any uncommitted change to the
    code), and the directory's shared settings (the grid file's model settings, rows, beam args)."""
    commits = sorted({c.get("code", {}).get("commit", "unknown") for c in cells})
    uncommitted = sorted({path for c in cells for path in c.get("code", {}).get("uncommitted", [])})
    settings_path = os.path.join(out_dir, SETTINGS_FILE)
    settings = None
    if os.path.exists(settings_path):
        with open(settings_path) as f:
            settings = json.load(f)
    return {"code": {"commits": commits, "uncommitted": uncommitted}, "settings": settings}


def _per_loss(cells: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Mean and sd over seeds of each metric, per dataset, beta, loss and alpha."""
    groups: dict[tuple, list] = {}
    for c in cells:
        groups.setdefault((c["dataset"], c["beta"], c["loss"], c["alpha_effective"]), []).append(c)
    rows = []
    for (dataset, beta, loss, alpha), group in sorted(groups.items(), key=lambda kv: _sort_key(kv[0])):
        row = {"dataset": dataset, "beta": beta, "loss": loss, "alpha": alpha, "seeds": len(group)}
        for m in metrics:
            values = np.array([c[m] for c in group if isinstance(c.get(m), (int, float))], np.float64)
            if len(values):
                row[m] = float(values.mean())
                row[f"{m}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        rows.append(row)
    return rows


# Losses in the paper's table order (docs/SCIENCE.md §6), then the others.
LOSS_ORDER = (*PAPER_RQ3, "focal")


def _loss_rank(loss: str) -> tuple:
    return (LOSS_ORDER.index(loss) if loss in LOSS_ORDER else len(LOSS_ORDER), loss)


def _sort_key(key: tuple) -> tuple:
    dataset, beta, loss, alpha = key
    return (dataset, beta, _loss_rank(loss), -1.0 if alpha is None else alpha)


def _ordered(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(cells, key=lambda c: (*_sort_key((c["dataset"], c["beta"], c["loss"], c["alpha_effective"])),
                                        c["seed"]))


def _bucket_order(name: str) -> float:
    return float(name.strip("[").split("%")[0])


def _fmt(value, digits: int, sign: str = "") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:{sign}.{digits}f}"


def _interval(row: dict[str, Any], digits: int, key: str = "ci") -> str:
    """`key`_low and `key`_high as [low, high]; empty when absent or NaN."""
    low, high = row.get(f"{key}_low", math.nan), row.get(f"{key}_high", math.nan)
    if math.isnan(low):
        return ""
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def _p(value: float) -> str:
    return "" if math.isnan(value) else (f"{value:.3f}" if value >= 0.001 else f"{value:.1e}")


DIGITS = {"auc": 4, "expected_auc": 4, "weighted_logloss": 5, "excess_logloss": 5, "train_weighted_logloss": 5}


def format_summary(summary: dict[str, Any]) -> str:
    """Markdown: the code the cells ran on, per-loss means, paired differences with verdicts, RQ1."""
    lines = []
    code = summary.get("code")
    if code:
        lines += [f"Cells ran on commit {', '.join(code['commits'])}"
                  + (f", with uncommitted changes to {', '.join(code['uncommitted'])}" if code["uncommitted"] else "")
                  + ".", ""]
    per_loss = summary["per_loss"]
    shown = [m for m in (*LABEL_METRICS, *TRUTH_METRICS, "train_weighted_logloss", "negative_gradient")
             if any(m in r for r in per_loss)]
    for dataset in sorted({r["dataset"] for r in per_loss}):
        lines += [f"### {dataset_name(dataset)}", "",
                  "| beta | loss | alpha | seeds | " + " | ".join(f"{m} (mean ± sd)" for m in shown) + " |",
                  "|---|---|---|---|" + "---|" * len(shown)]
        for r in (r for r in per_loss if r["dataset"] == dataset):
            values = [_mean_sd(r, m) for m in shown]
            lines.append(f"| {r['beta']:g} | {r['loss']} | {r['alpha']:g} | {r['seeds']} | " + " | ".join(values) + " |")
        lines.append("")
        metric_order = list(METRICS)
        comparisons = sorted((c for c in summary["comparisons"] if c["dataset"] == dataset),
                             key=lambda c: (c["beta"], _loss_rank(c["loss"]), -1.0 if c["alpha"] is None else c["alpha"],
                                            metric_order.index(c["metric"])))
        if comparisons:
            lines += _verdict_table(comparisons)
            lines += ["Paired differences, loss - BCE (same seeds); verdicts on "
                      + ", ".join(summary["verdict_metrics"]) + ":", "",
                      "| beta | loss | alpha | metric | finding | n | mean diff | 95% CI | Bonferroni CI | t-test p | "
                      "Holm p | Wilcoxon p | detectable (family level) | paper diff | verdict |",
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            for c in comparisons:
                digits = DIGITS.get(c["metric"], 6) + 1
                paper = _paper_diff(c["loss"], c["metric"])
                alpha = "default" if c["alpha"] is None else f"{c['alpha']:g}"
                lines.append(
                    f"| {c['beta']:g} | {c['loss']} | {alpha} | {c['metric']} | {c['finding']} | {c['n']} | "
                    f"{c['diff_mean']:+.{digits}f} | {_interval(c, digits)} | {_interval(c, digits, 'ci_adjusted')} | "
                    f"{_p(c['t_p'])} | {_p(c.get('holm_p', math.nan))} | {_p(c['wilcoxon_p'])} | "
                    f"{_fmt(c.get('detectable_effect_adjusted', c['detectable_effect']), digits)} | {paper} | "
                    f"{c['verdict']} |")
            lines.append("")
    if summary["rq1"]:
        lines += ["RQ1, benefit over BCE (positive = better) at each beta minus at the densest, paired by seed "
                  "(difference in differences; Holm over these rows):", "",
                  "| dataset | loss | alpha | metric | beta | benefit | densest beta | benefit there | difference | "
                  "95% CI | Bonferroni CI | t-test p | Holm p | verdict |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in summary["rq1"]:
            alpha = "default" if r["alpha"] is None else f"{r['alpha']:g}"
            lines.append(f"| {dataset_name(r['dataset'])} | {r['loss']} | {alpha} | {r['metric']} | {r['beta']:g} | "
                         f"{r['sparse_benefit']:+.5f} | {r['dense_beta']:g} | {r['dense_benefit']:+.5f} | "
                         f"{r['diff_mean']:+.5f} | {_interval(r, 5)} | {_interval(r, 5, 'ci_adjusted')} | "
                         f"{_p(r['t_p'])} | {_p(r.get('holm_p', math.nan))} | {r['verdict']} |")
        lines.append("")
    return "\n".join(lines)


def _verdict_table(comparisons: Sequence[dict[str, Any]]) -> list[str]:
    """One row per beta, loss and alpha; per finding the mean paired difference, its Bonferroni interval over
    the grid's verdicts and the verdict."""
    metrics = [m for m in METRICS if any(c["metric"] == m for c in comparisons)]
    keys = sorted({(c["beta"], c["loss"], c["alpha"]) for c in comparisons},
                  key=lambda k: (k[0], _loss_rank(k[1]), -1.0 if k[2] is None else k[2]))
    by = {(c["beta"], c["loss"], c["alpha"], c["metric"]): c for c in comparisons}
    lines = ["Verdicts: loss - BCE on the same seeds, mean [Bonferroni interval over the grid's verdicts], "
             "verdict (on Holm-adjusted p):", "",
             "| beta | loss | alpha | n | " + " | ".join(f"{m} ({METRICS[m]['finding']})" for m in metrics) + " |",
             "|---|---|---|---|" + "---|" * len(metrics)]
    for beta, loss, alpha in keys:
        cells, n = [], ""
        for m in metrics:
            c = by.get((beta, loss, alpha, m))
            if c is None:
                cells.append("")
                continue
            n = c["n"]
            digits = DIGITS.get(m)
            if digits is None:
                low, high = c.get("ci_adjusted_low", math.nan), c.get("ci_adjusted_high", math.nan)
                interval = "" if math.isnan(low) else f"[{low:+.1e}, {high:+.1e}]"
                cells.append(f"{c['diff_mean']:+.2e} {interval} {c['verdict']}")
            else:
                cells.append(f"{c['diff_mean']:+.{digits}f} {_interval(c, digits, 'ci_adjusted')} {c['verdict']}")
        alpha_text = "default" if alpha is None else f"{alpha:g}"
        lines.append(f"| {beta:g} | {loss} | {alpha_text} | {n} | " + " | ".join(cells) + " |")
    return lines + [""]


def _mean_sd(row: dict[str, Any], metric: str) -> str:
    if metric not in row:
        return ""
    digits = DIGITS.get(metric)
    if digits is None:  # gradients: scientific
        sd = row.get(metric + "_sd", math.nan)
        return f"{row[metric]:.2e}" + ("" if math.isnan(sd) else f" ± {sd:.1e}")
    sd = _fmt(row.get(metric + "_sd"), digits)
    return f"{row[metric]:.{digits}f}" + (f" ± {sd}" if sd else "")


def _paper_diff(loss: str, metric: str) -> str:
    key = METRICS[metric]["paper"]
    if key is None or loss not in PAPER_RQ3:
        return ""
    return f"{PAPER_RQ3[loss][key] - PAPER_RQ3['bce'][key]:+.5f}"


# ---- plots ------------------------------------------------------------------------------------------

def write_plots(cells: Sequence[dict[str, Any]], summary: dict[str, Any], out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(out_dir, exist_ok=True)
    written = [_plot_by_beta(cells, out_dir), _plot_differences(summary, out_dir)]
    written += _plot_gradients(cells, out_dir)
    return [w for w in written if w]


def _plot_by_beta(cells: Sequence[dict[str, Any]], out_dir: str) -> str:
    import matplotlib.pyplot as plt

    datasets = sorted({c["dataset"] for c in cells})
    metrics = [*LABEL_METRICS, *(TRUTH_METRICS if has_truth(cells) else ())]
    fig, axes = plt.subplots(len(datasets), len(metrics), figsize=(4.2 * len(metrics), 3.6 * len(datasets)),
                             squeeze=False)
    losses = sorted({c["loss"] for c in cells}, key=_loss_rank)
    for row, dataset in enumerate(datasets):
        betas = sorted({c["beta"] for c in cells if c["dataset"] == dataset})
        for col, metric in enumerate(metrics):
            ax = axes[row][col]
            for k, loss in enumerate(losses):
                means, sds, xs = [], [], []
                for b in betas:
                    values = [c[metric] for c in cells if c["dataset"] == dataset and c["beta"] == b
                              and c["loss"] == loss and isinstance(c.get(metric), (int, float))]
                    if values:
                        xs.append(b * (1 + 0.03 * (k - len(losses) / 2)))  # spread the losses apart
                        means.append(np.mean(values))
                        sds.append(np.std(values, ddof=1) if len(values) > 1 else 0.0)
                if xs:
                    ax.errorbar(xs, means, yerr=sds, marker="o", capsize=3, label=loss,
                                linestyle="-" if len(xs) > 1 else "none", color="black" if loss == "bce" else None)
            ax.set_xscale("log")
            ax.set_xticks(betas, [f"{b:g}" for b in betas])
            ax.minorticks_off()
            ax.set(xlabel="beta (weight of positives)", title=f"{dataset_name(dataset)}\n{metric}")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Mean over seeds, error bars +-1 sd"
                 + ("; expected AUC and excess logloss against the true probabilities" if has_truth(cells) else ""))
    return save_figure(fig, os.path.join(out_dir, "metrics_by_beta.png"))


def _plot_differences(summary: dict[str, Any], out_dir: str) -> Optional[str]:
    import matplotlib.pyplot as plt

    comparisons = summary["comparisons"]
    metrics = [m for m in (*LABEL_METRICS, *TRUTH_METRICS) if any(c["metric"] == m for c in comparisons)]
    groups = sorted({(c["dataset"], c["beta"]) for c in comparisons})
    if not groups:
        return None
    fig, axes = plt.subplots(len(groups), len(metrics), figsize=(4.2 * len(metrics), 0.5 + 0.45 *
                             max(len({(c['loss'], c['alpha']) for c in comparisons}), 2) * len(groups) + 1.2),
                             squeeze=False)
    for row, (dataset, beta) in enumerate(groups):
        for col, metric in enumerate(metrics):
            ax = axes[row][col]
            rows = [c for c in comparisons if (c["dataset"], c["beta"], c["metric"]) == (dataset, beta, metric)]
            labels = [c["loss"] + ("" if c["alpha"] is None else f" a={c['alpha']:g}") for c in rows]
            ys = np.arange(len(rows))
            means = np.array([c["diff_mean"] for c in rows])
            errors = np.array([[c["diff_mean"] - c["ci_low"], c["ci_high"] - c["diff_mean"]] for c in rows]).T
            colors = [_verdict_color(c["verdict"]) for c in rows]
            for y, m, lo, hi, color, c in zip(ys, means, *errors, colors, rows):
                if not math.isnan(c.get("ci_adjusted_low", math.nan)):  # the wider, family-wise interval
                    ax.plot([c["ci_adjusted_low"], c["ci_adjusted_high"]], [y, y], color=color, alpha=0.35,
                            linewidth=5, solid_capstyle="butt")
                ax.errorbar([m], [y], xerr=[[lo], [hi]], fmt="o", color=color, capsize=3)
            for y, c in zip(ys, rows):
                paper = PAPER_RQ3.get(c["loss"], {}).get(METRICS[metric]["paper"] or "")
                if paper is not None:
                    ax.plot([paper - PAPER_RQ3["bce"][METRICS[metric]["paper"]]], [y], marker="x", color="grey")
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_yticks(ys, labels)
            ax.set(title=f"{dataset_name(dataset)}, beta {beta:g}\n{metric}: loss - BCE", ylim=(-0.7, len(rows) - 0.3))
            ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Paired differences with 95% t intervals (bars) and Bonferroni intervals over the grid's verdicts "
                 "(shaded); x: the paper's difference\n"
                 "green: reproduced, red: opposite, orange: not reproduced, blue: inconclusive (Holm-adjusted)",
                 fontsize=10)
    return save_figure(fig, os.path.join(out_dir, "paired_differences.png"))


def _verdict_color(verdict: str) -> str:
    for prefix, color in (("reproduced", "tab:green"), ("opposite", "tab:red"), ("not reproduced", "tab:orange")):
        if verdict.startswith(prefix):
            return color
    return "tab:blue"


def _plot_gradients(cells: Sequence[dict[str, Any]], out_dir: str) -> list[str]:
    from sparsectr.diagnostics_plots import plot_runs

    written = []
    with_diagnostics = [c for c in cells if c.get("diagnostics_dir") and os.path.isdir(c["diagnostics_dir"])]
    for dataset, beta in sorted({(c["dataset"], c["beta"]) for c in with_diagnostics}):
        group = [c for c in with_diagnostics if (c["dataset"], c["beta"]) == (dataset, beta)]
        seed = min(c["seed"] for c in group)
        first = [c for c in _ordered(group) if c["seed"] == seed]
        bce = [c for c in first if c["loss"] == "bce"]
        for c in first:
            if bce and c["loss"] != "bce":  # BCE beside each other loss, one directory each
                label = c["loss"] + ("" if c["alpha"] is None else f"_alpha{c['alpha']:g}")
                written += plot_runs([("bce", bce[0]["diagnostics_dir"]), (label, c["diagnostics_dir"])],
                                     os.path.join(out_dir, f"gradients_{dataset_name(dataset)}_beta{beta:g}", label))
    return written


def report(cells: Sequence[dict[str, Any]], out_dir: str, plots: bool = True) -> tuple[str, list[str]]:
    """Writes the table, the summary and the plots of `cells` to `out_dir`; returns the summary text and the files."""
    if not cells:
        raise ValueError(f"{out_dir}: no finished cells (run `sparsectr experiment --out {out_dir}` first)")
    written = write_results(cells, out_dir)
    summary = {**summarise(cells), **provenance(cells, out_dir)}
    with open(os.path.join(out_dir, SUMMARY_JSON), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True, default=str)
    text = format_summary(summary)
    with open(os.path.join(out_dir, SUMMARY_MD), "w") as f:
        f.write(text + "\n")
    written += [os.path.join(out_dir, SUMMARY_JSON), os.path.join(out_dir, SUMMARY_MD)]
    if plots:
        written += write_plots(cells, summary, os.path.join(out_dir, "plots"))
    return text, written

