"""`sparsectr report RUN_DIR`: the latest evaluation of a run as a table
(overall, per sparsity bucket, per other slice) and three PNGs:

- calibration.png: mean prediction against observed click rate in bins of
  equal size (from TFMA's calibration plot), log-log, with Wilson 95%
  intervals, the clicks per bin and the diagonal;
- sparsity_buckets.png: AUC (with its 95% interval from DeLong's standard error), weighted
  logloss, examples and clicks per sparsity bucket;
- training_curves.png: the Trainer's loss, AUC and weighted logloss per epoch,
  training and validation, and the epoch whose weights were kept;
- calibration_before_after.png (models trained with --calibration): the same
  curve for the network's probability and the calibrated one, on every row of
  the evaluated split (scored through the model's serving signature).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from evaluation.results import (BUCKET_SLICE_PREFIX, EXAMPLE_COUNT, OVERALL, WEIGHTED_LOGLOSS, auc_interval,
                                calibration_buckets, clicks, format_table, sparsity_description, sparsity_rows,
                                wilson_interval)
from models.trainer import TRAINING_KEY
from pipeline.run_result import latest_run
from sparsectr.diagnostics_plots import save_figure
from sparsectr.run import training_summary

CALIBRATION_BINS = 12
REPORT_DIR = "report"


@dataclass
class RunReport:
    evaluation_dir: str
    model_config: dict
    metrics: dict[str, dict[str, float]]
    history: Optional[dict[str, list[float]]]
    min_slice_size: int
    model_dir: str = ""
    examples_dir: str = ""

    @property
    def calibration(self) -> Optional[dict]:
        """The model's post-hoc calibration map (models/calibration.py), or None."""
        return (self.model_config.get(TRAINING_KEY) or {}).get("calibration")


def evaluation_split_rows(examples_dir: str) -> str:
    """The ExampleGen split the Evaluator scored (test when there is one, else eval: PipelineConfig)."""
    for split in ("test", "eval"):
        path = os.path.join(examples_dir, f"Split-{split}")
        if os.path.isdir(path):
            return path
    raise FileNotFoundError(f"{examples_dir}: no Split-test or Split-eval")


def scores_before_and_after_calibration(model_dir: str, split_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, probability before calibration, after) of every row of an ExampleGen split, through
    the pushed model's serving signature (its `model_logit` and `probability` outputs)."""
    import tensorflow as tf

    from models import features
    from models.serving_contract import MODEL_LOGIT_KEY, PROBABILITY_KEY, SERVING_SIGNATURE

    serve = tf.saved_model.load(model_dir).signatures[SERVING_SIGNATURE]
    files = sorted(tf.io.gfile.glob(os.path.join(split_dir, "*")))
    labels, before, after = [], [], []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        parsed = tf.io.parse_example(batch, {features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64, 0)})
        out = serve(examples=batch)
        labels.append(parsed[features.LABEL_KEY].numpy())
        before.append(tf.sigmoid(out[MODEL_LOGIT_KEY]).numpy())
        after.append(out[PROBABILITY_KEY].numpy())
    return np.concatenate(labels), np.concatenate(before), np.concatenate(after)


def equal_count_curve(labels: np.ndarray, predictions: np.ndarray, bins: int = CALIBRATION_BINS
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean prediction, observed rate, examples) in `bins` groups of equal size by prediction."""
    order = np.argsort(predictions, kind="stable")
    groups = np.array_split(order, bins)
    return (np.array([predictions[g].mean() for g in groups]), np.array([labels[g].mean() for g in groups]),
            np.array([len(g) for g in groups]))


def load_run(run_dir: str, min_slice_size: int) -> RunReport:
    """The latest evaluation, trained model settings and training history under `run_dir` (the
    --output directory of `sparsectr run`), from its ML Metadata (pipeline/run_result.py)."""
    run = latest_run(run_dir)
    if not run.evaluation_dir or not run.model_dir:
        raise FileNotFoundError(f"{run_dir}: no Evaluator output under {run.outputs.pipeline_root}; give the "
                                "--output directory of a `sparsectr run` that got as far as evaluation")
    return RunReport(run.evaluation_dir, run.trained_config(), run.evaluation(min_slice_size), run.history(),
                     min_slice_size, run.serving_model_dir, run.examples_dir or "")


def format_report(report: RunReport) -> str:
    """The evaluation table: overall, every sparsity bucket, then other slices."""
    bucket_rows = sparsity_rows(report.metrics, report.model_config["sparsity_boundaries"])
    others = sorted(name for name in report.metrics if name != OVERALL and not name.startswith(BUCKET_SLICE_PREFIX))
    rows = [(OVERALL, report.metrics.get(OVERALL))] + [(f"sparsity {name}", m) for name, m in bucket_rows]
    rows += [(name, report.metrics[name] or None) for name in others]
    return (f"evaluation: {report.evaluation_dir}\n"
            f"sparsity buckets: {sparsity_description(report.model_config)}\n"
            + format_table(rows, report.min_slice_size))


def calibration_curve(buckets: Sequence[tuple[float, float, float]], bins: int = CALIBRATION_BINS
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean prediction, observed rate, examples) in `bins` groups of about equal examples,
    merged from TFMA's prediction buckets (ascending)."""
    counts = np.array([b[0] for b in buckets])
    predictions = np.array([b[1] for b in buckets])
    labels = np.array([b[2] for b in buckets])
    group = np.minimum((np.cumsum(counts) - counts / 2) * bins // counts.sum(), bins - 1).astype(int)
    n = np.bincount(group, counts, bins)
    keep = n > 0
    return (np.bincount(group, predictions, bins)[keep] / n[keep], np.bincount(group, labels, bins)[keep] / n[keep],
            n[keep])


def write_plots(report: RunReport, out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = []

    def save(fig, name: str) -> None:
        paths.append(save_figure(fig, os.path.join(out_dir, name)))

    buckets = calibration_buckets(report.evaluation_dir)
    if buckets:
        predicted, observed, n = calibration_curve(buckets)
        low, high = np.array([wilson_interval(rate * count, count) for rate, count in zip(observed, n)]).T
        fig, ax = plt.subplots(figsize=(5.8, 5.2))
        ax.errorbar(predicted, observed, yerr=[observed - low, high - observed], fmt="o-", capsize=3,
                    label="model, 95% interval of the observed rate")
        for x, y, k in zip(predicted, observed, np.round(observed * n)):
            ax.annotate(f"{k:,.0f}", (x, max(y, low.min() / 2)), textcoords="offset points", xytext=(4, -12),
                        fontsize=7, color="tab:blue")
        lo = max(min(predicted.min(), low[low > 0].min() if (low > 0).any() else 1.0), 1e-6)
        hi = max(predicted.max(), high.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="perfect calibration")
        ax.set(xscale="log", yscale="log", xlabel="mean predicted click probability", ylabel="observed click rate",
               title=f"Calibration ({OVERALL}, {n.sum():,.0f} examples in {len(n)} bins of equal size)")
        ax.title.set_fontsize(10)
        ax.legend(fontsize=8, title="numbers: clicks in the bin", title_fontsize=8)
        save(fig, "calibration.png")

    if report.calibration and report.examples_dir:
        labels, before, after = scores_before_and_after_calibration(
            report.model_dir, evaluation_split_rows(report.examples_dir))
        fig, ax = plt.subplots(figsize=(5.8, 5.2))
        for name, predictions, style in (("before", before, "s--"), ("after", after, "o-")):
            predicted, observed, _ = equal_count_curve(labels, predictions)
            ax.plot(predicted, observed, style, label=f"{name} calibration (mean prediction / mean label "
                                                      f"{predictions.mean() / max(labels.mean(), 1e-12):.3f})")
        lo, hi = max(min(before.min(), after.min()), 1e-4), max(before.max(), after.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="perfect calibration")
        ax.set(xscale="log", yscale="log", xlabel="mean predicted click probability", ylabel="observed click rate",
               title=f"{report.calibration['kind']} calibration, fitted on {report.calibration['rows']:,} validation "
                     f"rows;\nscored on {len(labels):,} evaluation rows in {CALIBRATION_BINS} bins of equal size")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=8)
        save(fig, "calibration_before_after.png")

    rows = sparsity_rows(report.metrics, report.model_config["sparsity_boundaries"])
    names = [name for name, _ in rows]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    overall = report.metrics.get(OVERALL, {})
    for ax, metric, title in zip(axes[:2], ("auc", WEIGHTED_LOGLOSS), ("AUC", "weighted logloss")):
        values = np.array([m.get(metric, np.nan) if m else np.nan for _, m in rows])
        errors = np.array([auc_interval(m) if m and metric == "auc" else np.nan for _, m in rows])
        ax.bar(x, values, yerr=errors if metric == "auc" else None, capsize=4, color="tab:blue",
               label="95% interval (DeLong)" if metric == "auc" else None)
        if metric in overall:
            ax.axhline(overall[metric], color="k", ls="--", lw=1, label=f"overall {overall[metric]:.4f}")
        if metric == "auc":
            finite = values[np.isfinite(values)] - np.nan_to_num(errors[np.isfinite(values)])
            ax.set_ylim(max(0.0, min(list(finite) + [0.5]) - 0.05), 1.0)
        ax.legend(fontsize=8)
        ax.set_title(f"{title} by sparsity bucket")
    ax = axes[2]
    examples = np.array([m.get(EXAMPLE_COUNT, 0) if m else 0 for _, m in rows], dtype=float)
    positives = np.array([clicks(m) if m and "mean_label" in m else np.nan for _, m in rows])
    ax.bar(x, np.where(examples > 0, examples, np.nan), color="tab:gray", label="examples")
    ax.bar(x, np.where(positives > 0, positives, np.nan), color="tab:orange", label="clicks")
    for i, (e, k) in enumerate(zip(examples, positives)):
        ax.annotate(f"{e:,.0f}" + (f"\n{k:,.0f} clicks" if np.isfinite(k) else ""), (i, max(e, 1)),
                    ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylim(0.8, max(examples.max(), 1) * 8)
    ax.axhline(report.min_slice_size, color="tab:red", ls=":", lw=1,
               label=f"minimum slice size {report.min_slice_size}")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("examples and clicks by sparsity bucket")
    for ax in axes:
        ax.set_xticks(x, names, rotation=30, ha="right")
    fig.suptitle(f"Sparsity buckets: {sparsity_description(report.model_config)}; no bar: no example, or fewer "
                 "than the minimum slice size", fontsize=11)
    save(fig, "sparsity_buckets.png")

    if report.history:
        monitor = report.model_config.get("monitor", "auc")
        kept = training_summary(report.history, monitor)["best_epoch"]
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        for ax, metric in zip(axes, ("loss", "auc", "weighted_logloss")):
            for prefix, style in (("", "o-"), ("val_", "s--")):
                values = report.history.get(prefix + metric)
                if values:
                    ax.plot(range(1, len(values) + 1), values, style, label=("validation" if prefix else "training"))
            ax.axvline(kept, color="tab:green", lw=1, ls=":", label=f"epoch kept ({kept}, best validation {monitor})")
            ax.set(xlabel="epoch", title=metric + (" (with the L2 term; log scale)" if metric == "loss" else ""))
            if metric == "loss":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
        fig.suptitle("Training curves")
        save(fig, "training_curves.png")
    return paths
