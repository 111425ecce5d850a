"""Reading the Evaluator's output: metrics and calibration histograms per slice,
for the candidate model (baseline values and diffs are left out)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import tensorflow_model_analysis as tfma

from models.slices import raw_feature_of
from models.sparsity import SPARSITY_BUCKET_KEY, bucket_names

OVERALL = "overall"
EXAMPLE_COUNT = "example_count"
WEIGHTED_PREFIX = "weighted_"
WEIGHTED_LOGLOSS = f"{WEIGHTED_PREFIX}binary_crossentropy"  # the beta-weighted logloss


def slice_name(slice_key) -> str:
    """'overall', or 'feature=value' (crossed slices joined with ' & '); a raw-feature slice
    (models/slices.py) is named by the raw feature: 'C17=e5ba7672'."""
    parts = []
    for key in slice_key.single_slice_keys:
        kind = key.WhichOneof("kind")
        value = getattr(key, kind)
        column = raw_feature_of(key.column) or key.column
        parts.append(f"{column}={value.decode() if isinstance(value, bytes) else value}")
    return " & ".join(parts) or OVERALL


def _is_candidate(key) -> bool:
    return not getattr(key, "is_diff", False) and (not key.model_name or key.model_name == "candidate")


def slice_metrics(evaluation_dir: str, min_slice_size: int = 1) -> dict[str, dict[str, float]]:
    """{slice name: {metric: value}}; weighted metrics are named `weighted_<name>`. A slice other
    than overall with fewer than `min_slice_size` examples keeps its example count only."""
    result: dict[str, dict[str, float]] = {}
    for per_slice in tfma.load_metrics(evaluation_dir):
        name = slice_name(per_slice.slice_key)
        metrics = result.setdefault(name, {})
        for entry in per_slice.metric_keys_and_values:
            if _is_candidate(entry.key) and entry.value.HasField("double_value"):
                metric = (WEIGHTED_PREFIX if entry.key.example_weighted.value else "") + entry.key.name
                metrics[metric] = entry.value.double_value.value
        if name != OVERALL and metrics.get(EXAMPLE_COUNT, 0) < min_slice_size:
            result[name] = {EXAMPLE_COUNT: metrics.get(EXAMPLE_COUNT, 0.0)}
    return result


def calibration_buckets(evaluation_dir: str, slice: str = OVERALL) -> list[tuple[float, float, float]]:
    """TFMA's calibration plot of a slice: (examples, sum of predictions, sum of labels) per
    prediction bucket, unweighted, empty buckets left out."""
    for per_slice in tfma.load_plots(evaluation_dir):
        if slice_name(per_slice.slice_key) != slice:
            continue
        for entry in per_slice.plot_keys_and_values:
            if _is_candidate(entry.key) and entry.value.HasField("calibration_histogram_buckets"):
                return [(b.num_weighted_examples.value, b.total_weighted_refined_prediction.value,
                         b.total_weighted_label.value)
                        for b in entry.value.calibration_histogram_buckets.buckets
                        if b.num_weighted_examples.value > 0]
    return []


BUCKET_SLICE_PREFIX = f"{SPARSITY_BUCKET_KEY}="


def bucket_slice(index: int) -> str:
    return f"{BUCKET_SLICE_PREFIX}{index}"


def sparsity_description(model_config: dict) -> str:
    """What the buckets of a model's evaluation are (its model_config.json / ModelConfig.to_dict())."""
    return (f"beta-weighted positive rate of {' x '.join(model_config['sparsity_key'])} in the training split "
            f"(beta {model_config['beta']:g}, {model_config['sparsity_smoothing']:g} pseudo-examples)")


def sparsity_rows(metrics: dict[str, dict[str, float]], boundaries: Sequence[float]
                  ) -> list[tuple[str, Optional[dict[str, float]]]]:
    """(bucket name, metrics or None when no evaluation example fell in it) for every bucket, in order."""
    return [(name, metrics.get(bucket_slice(i)) or None) for i, name in enumerate(bucket_names(boundaries))]


def clicks(metrics: dict[str, float]) -> float:
    """Positives in a slice (unweighted), from its example count and mean label; NaN when withheld."""
    return round(metrics.get("mean_label", float("nan")) * metrics.get(EXAMPLE_COUNT, float("nan")))


def auc_interval(metrics: dict[str, float], z: float = 1.96) -> float:
    """Half-width of the normal 95% interval of a slice's AUC, from DeLong's standard error
    (evaluation/auc_metric.py); NaN when the slice has no metrics."""
    return z * metrics.get("auc_standard_error", float("nan"))


def wilson_interval(successes: float, trials: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial rate."""
    if trials <= 0:
        return float("nan"), float("nan")
    centre = (successes + z * z / 2) / (trials + z * z)
    half = z * math.sqrt(successes * (trials - successes) / trials + z * z / 4) / (trials + z * z)
    return centre - half, centre + half


def format_table(rows: Sequence[tuple[str, Optional[dict[str, float]]]], min_slice_size: int) -> str:
    """A fixed-width table: examples, clicks, weighted examples, AUC with its 95% half-width,
    weighted and unweighted logloss, calibration."""
    header = (f"{'slice':<28}{'examples':>10}{'clicks':>8}{'weighted':>11}{'AUC':>8}{'±95%':>7}{'logloss_w':>11}"
              f"{'logloss':>9}{'calib':>7}")
    lines = [header]
    for name, m in rows:
        if not m:
            lines.append(f"{name:<28}{0:>10}")
            continue
        if "auc" not in m:
            lines.append(f"{name:<28}{m[EXAMPLE_COUNT]:>10,.0f}  (metrics withheld: under {min_slice_size} examples)")
            continue
        lines.append(f"{name:<28}{m.get('example_count', float('nan')):>10,.0f}{clicks(m):>8,.0f}"
                     f"{m.get('weighted_example_count', float('nan')):>11,.1f}{m.get('auc', float('nan')):>8.4f}"
                     f"{auc_interval(m):>7.3f}{m.get('weighted_binary_crossentropy', float('nan')):>11.4f}"
                     f"{m.get('binary_crossentropy', float('nan')):>9.4f}{m.get('calibration', float('nan')):>7.3f}")
    return "\n".join(lines)
