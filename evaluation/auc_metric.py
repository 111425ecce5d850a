"""Exact ROC AUC for click-through rates, with its standard error, as a TFMA metric.

TFMA's own AUC counts predictions in 10,000 equal buckets of [0, 1] (its
calibration histogram), each 1e-4 wide. CTR predictions mostly sit below a
few percent, and in a sparse slice below 0.5%: there the whole slice shares a
few dozen buckets, pairs inside a bucket count as ties, and AUC is off by
1e-3..1e-2 (docs/EVALUATION.md).

This metric keeps a sparse histogram keyed by the prediction as a float32
(the model's output type), read as the integer of its bits: for numbers >= 0
that integer orders like the number. Only identical predictions share a
key, and a pair inside one counts half, as the Mann-Whitney statistic (and
scikit-learn) scores ties: the AUC is exact. The accumulator holds one entry
per distinct prediction; when a slice has more than `MAX_BINS` of them, keys
are merged in pairs of neighbouring floats (key >> 1) until it has at most
that many. Bins then span a fixed number of float32 steps, a relative width
like a logit's, and memory stays bounded on any evaluation set. Accumulators
merge across Beam workers like TFMA's metrics. A prediction that is NaN or
outside [0, 1] fails the evaluation with a message that says so.

Beside `auc` it reports `auc_standard_error`, DeLong's nonparametric
standard error (DeLong, DeLong & Clarke-Pearson 1988), from the same
histogram: each positive's share of negatives scored below it and each
negative's share of positives scored above it (ties half). A slice of a few
clicks has an AUC no one should read much into; this says how much.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util

AUC_NAME = "auc"
STANDARD_ERROR_SUFFIX = "_standard_error"
MAX_BINS = 1_000_000  # distinct keys a slice keeps before neighbouring ones are merged
_PENDING = 16_384  # examples buffered before they are folded into the histogram


def score_key(probability) -> np.ndarray:
    """The histogram key (int64) of each probability: its float32 bits, ordered like the values."""
    p = np.asarray(probability, dtype=np.float64)
    if not np.all((p >= 0.0) & (p <= 1.0)):  # also catches NaN
        bad = p[~((p >= 0.0) & (p <= 1.0))]
        raise ValueError(f"ExactAUC: predictions must be probabilities in [0, 1], got {bad[:5].tolist()}; "
                         "check the model's `probability` output")
    return p.astype(np.float32).view(np.int32).astype(np.int64)


def auc_from_histograms(positives: np.ndarray, negatives: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney AUC and DeLong's standard error from per-bin positive and negative weights (bins
    ascending); NaN without both classes, and an SE of NaN with a single example of either class."""
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan"), float("nan")
    negatives_below = np.cumsum(negatives) - negatives
    positives_above = total_pos - np.cumsum(positives)
    # Placements: a positive's share of negatives below it, a negative's share of positives above it.
    v10 = (negatives_below + 0.5 * negatives) / total_neg
    v01 = (positives_above + 0.5 * positives) / total_pos
    auc = float(np.sum(positives * v10) / total_pos)
    if total_pos <= 1 or total_neg <= 1:
        return auc, float("nan")
    s10 = np.sum(positives * (v10 - auc) ** 2) / (total_pos - 1)
    s01 = np.sum(negatives * (v01 - auc) ** 2) / (total_neg - 1)
    return auc, float(np.sqrt(s10 / total_pos + s01 / total_neg))


class PredictionHistogram:
    """Positive and negative weight per non-empty bin, bins ascending.

    `shift` s means a bin holds 2**s neighbouring float32 values (bin = score_key >> s).
    """
    __slots__ = ("shift", "bins", "positives", "negatives", "pending")

    def __init__(self):
        self.shift = 0
        self.bins = np.empty(0, np.int64)
        self.positives = np.empty(0)
        self.negatives = np.empty(0)
        self.pending: list[tuple[float, float, float]] = []  # (prediction, positive weight, negative weight)

    def add(self, prediction: float, positive: float, negative: float) -> None:
        """Buffers one example; `compact` keys and checks the buffer at once (this runs per example)."""
        self.pending.append((prediction, positive, negative))
        if len(self.pending) >= _PENDING:
            self.compact()

    def compact(self, others: Iterable["PredictionHistogram"] = ()) -> "PredictionHistogram":
        """Folds pending examples (and `others`) into the sorted bins; coarsens past MAX_BINS."""
        parts = [self, *others]
        shift = max(h.shift for h in parts)
        bins, positives, negatives = [], [], []
        for h in parts:
            bins.append(h.bins >> (shift - h.shift))
            positives.append(h.positives)
            negatives.append(h.negatives)
            if h.pending:
                pending = np.array(h.pending, dtype=np.float64)
                bins.append(score_key(pending[:, 0]) >> shift)
                positives.append(pending[:, 1])
                negatives.append(pending[:, 2])
                h.pending = []
        bins, positives, negatives = np.concatenate(bins), np.concatenate(positives), np.concatenate(negatives)
        while True:
            self.bins, index = np.unique(bins, return_inverse=True)
            if len(self.bins) <= MAX_BINS:
                break
            shift += 1
            bins = bins >> 1
        self.shift = shift
        self.positives = np.bincount(index, positives, len(self.bins))
        self.negatives = np.bincount(index, negatives, len(self.bins))
        return self

    def auc(self) -> tuple[float, float]:
        """(AUC, DeLong standard error)."""
        self.compact()
        return auc_from_histograms(self.positives, self.negatives)


class _HistogramCombiner(beam.CombineFn):
    def __init__(self, key: metric_types.MetricKey, standard_error_key: metric_types.MetricKey,
                 eval_config: Optional[tfma.EvalConfig], example_weighted: bool):
        self._key = key
        self._standard_error_key = standard_error_key
        self._eval_config = eval_config
        self._example_weighted = example_weighted

    def create_accumulator(self) -> PredictionHistogram:
        return PredictionHistogram()

    def add_input(self, accumulator: PredictionHistogram, element: metric_types.StandardMetricInputs) -> PredictionHistogram:
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
                element, eval_config=self._eval_config, model_name=self._key.model_name,
                output_name=self._key.output_name, example_weighted=self._example_weighted, flatten=True):
            label, weight = float(label), float(weight)
            accumulator.add(float(prediction), weight * label, weight * (1.0 - label))
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[PredictionHistogram]) -> PredictionHistogram:
        accumulators = iter(accumulators)
        return next(accumulators).compact(accumulators)

    def compact(self, accumulator: PredictionHistogram) -> PredictionHistogram:
        return accumulator.compact()

    def extract_output(self, accumulator: PredictionHistogram) -> Dict[metric_types.MetricKey, float]:
        auc, standard_error = accumulator.auc()
        return {self._key: auc, self._standard_error_key: standard_error}


def _auc(name: str = AUC_NAME, eval_config: Optional[tfma.EvalConfig] = None, model_name: str = "",
         output_name: str = "", example_weighted: bool = False, **_: Any) -> metric_types.MetricComputations:
    key, standard_error_key = (metric_types.MetricKey(name=n, model_name=model_name, output_name=output_name,
                                                      example_weighted=example_weighted)
                               for n in (name, name + STANDARD_ERROR_SUFFIX))
    return [metric_types.MetricComputation(
        keys=[key, standard_error_key], preprocessors=None,
        combiner=_HistogramCombiner(key, standard_error_key, eval_config, example_weighted))]


class ExactAUC(metric_types.Metric):
    """Exact ROC AUC and its DeLong standard error over a sparse histogram of predictions
    (see the module docstring)."""

    def __init__(self, name: str = AUC_NAME):
        super().__init__(metric_util.merge_per_key_computations(_auc), name=name)


metric_types.register_metric(ExactAUC)
