"""PNG plots of gradient diagnostics (models/diagnostics.py), one or more runs
side by side: what the paper shows in its gradient figures (docs/SCIENCE.md §4).

`sparsectr plot-diagnostics LABEL=DIR ... --out DIR` where each DIR is a
Trainer run's `diagnostics/` directory (or a directory holding one).
"""
from __future__ import annotations

import csv
import json
import os
from typing import Sequence

import numpy as np

from models.diagnostics import BATCHES_FILE, HISTOGRAMS_FILE, LAYER_GROUPS, LAYERS_FILE


def diagnostics_dir(path: str) -> str:
    """`path` itself, or the one `diagnostics/` directory below it."""
    if os.path.exists(os.path.join(path, BATCHES_FILE)):
        return path
    found = sorted(root for root, _, files in os.walk(path) if BATCHES_FILE in files)
    if len(found) != 1:
        raise FileNotFoundError(f"{path}: expected one directory with {BATCHES_FILE} (a run with --diagnostics), "
                                f"found {len(found)}")
    return found[0]


def read_batches(directory: str) -> dict[str, np.ndarray]:
    with open(os.path.join(directory, BATCHES_FILE)) as f:
        rows = list(csv.DictReader(f))
    return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}


def read_layers(directory: str) -> dict[str, dict[str, np.ndarray]]:
    with open(os.path.join(directory, LAYERS_FILE)) as f:
        rows = list(csv.DictReader(f))
    return {group: {key: np.array([float(r[key]) for r in rows if r["group"] == group])
                    for key in ("step", "p10", "p50", "p90", "mean")} for group in LAYER_GROUPS}


def read_histograms(directory: str) -> tuple[np.ndarray, np.ndarray]:
    """(log10 bin edges, counts summed over every recorded step)."""
    with open(os.path.join(directory, HISTOGRAMS_FILE)) as f:
        data = json.load(f)
    return np.array(data["log10_edges"]), np.sum([h["counts"] for h in data["histograms"]], axis=0)


def plot_runs(runs: Sequence[tuple[str, str]], out_dir: str) -> list[str]:
    """runs: (label, diagnostics directory). Returns the PNG paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, directory in runs:
        b = read_batches(directory)
        ax.plot(b["step"], b["mean_abs_grad_negatives"], label=f"{label}: negatives", lw=1)
        ax.plot(b["step"], b["mean_abs_grad_positives"], label=f"{label}: positives", lw=1, ls="--")
    ax.set(yscale="log", xlabel="training step", ylabel="mean |dL/dz| per batch",
           title="Gradient of the loss w.r.t. the logit")
    ax.legend(fontsize=8)
    written.append(save_figure(fig, os.path.join(out_dir, "logit_gradients.png")))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, directory in runs:
        edges, counts = read_histograms(directory)
        share = counts / max(counts.sum(), 1)
        ax.stairs(share, edges, label=label)
    ax.set(xlabel="log10 |dL/dz| of negatives", ylabel="share of negatives",
           title="Distribution of negatives' gradients (all recorded steps)")
    ax.legend(fontsize=8)
    written.append(save_figure(fig, os.path.join(out_dir, "negative_gradient_histogram.png")))

    fig, axes = plt.subplots(1, len(LAYER_GROUPS), figsize=(14, 4), sharey=False)
    for label, directory in runs:
        layers = read_layers(directory)
        for ax, group in zip(axes, LAYER_GROUPS):
            g = layers[group]
            line, = ax.plot(g["step"], g["p50"], label=label)
            ax.fill_between(g["step"], g["p10"], g["p90"], color=line.get_color(), alpha=0.2)
            ax.set(yscale="log", title=f"{group}: |grad| p10-p50-p90", xlabel="training step")
    axes[0].legend(fontsize=8)
    written.append(save_figure(fig, os.path.join(out_dir, "layer_gradients.png")))
    return written


def save_figure(fig, path: str) -> str:
    """Writes a figure as PNG and frees it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
