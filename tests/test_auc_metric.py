"""evaluation/auc_metric.py against scikit-learn, on predictions as sparse as a
CTR model's, and through TFMA's own metric plumbing."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from sklearn.metrics import roc_auc_score
from tensorflow_model_analysis.metrics import metric_types

from numpy_references import delong
from evaluation import auc_metric


def _sparse_predictions(n: int, mean_logit: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(mean_logit, 1.0, n)))
    return (rng.random(n) < p).astype(float), p.astype(np.float32)


def _histogram(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> auc_metric.PredictionHistogram:
    w = np.ones_like(y) if w is None else w
    h = auc_metric.PredictionHistogram()
    for prediction, label, weight in zip(p, y, w):
        h.add(float(prediction), weight * label, weight * (1 - label))
    return h


@pytest.mark.parametrize("n, mean_logit, seed", [(20_000, -2.0, 1), (20_000, -5.0, 1), (20_000, -7.0, 1),
                                                 (300, -3.0, 5), (300, -3.0, 6), (1_000, -4.0, 7)])
def test_histogram_auc_equals_sklearn_where_equal_width_buckets_do_not(n, mean_logit, seed):
    y, p = _sparse_predictions(n, mean_logit, seed)
    exact = roc_auc_score(y, p)
    assert _histogram(y, p).auc()[0] == pytest.approx(exact, abs=1e-12)
    if n == 20_000 and mean_logit <= -7.0:
        # TFMA's AUC: 10,000 equal buckets of [0, 1], a pair inside one bucket counted as half.
        assert abs(roc_auc_score(y, np.floor(p.astype(np.float64) * 9999)) - exact) > 1e-4  # why this metric exists


@pytest.mark.parametrize("n, mean_logit, seed", [(3_000, -3.0, 11), (400, -2.0, 12), (150, -3.5, 13)])
def test_delong_standard_error_matches_the_pairwise_reference(n, mean_logit, seed):
    y, p = _sparse_predictions(n, mean_logit, seed)
    tied = np.arange(0, n - 1, 7)
    p[tied] = p[tied + 1]  # exact ties, some between a positive and a negative
    auc, standard_error = _histogram(y, p).auc()
    expected_auc, expected_se = delong(y, p)
    assert auc == pytest.approx(expected_auc, abs=1e-12)
    assert standard_error == pytest.approx(expected_se, rel=1e-4)


def test_delong_standard_error_matches_the_spread_of_simulated_aucs():
    """1,000 samples of 40 positives and 1,000 negatives from one binormal model: the mean reported SE
    is within 10% of the standard deviation of the AUCs."""
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(40), np.zeros(1000)]
    results = np.array([_histogram(y, 1 / (1 + np.exp(-np.r_[rng.normal(-2, 1, 40), rng.normal(-3, 1, 1000)])))
                        .auc() for _ in range(1000)])
    assert results[:, 1].mean() == pytest.approx(results[:, 0].std(), rel=0.10)


def test_ties_count_half_and_one_class_gives_nan():
    y = np.array([1, 0, 1, 0], float)
    p = np.array([0.3, 0.3, 0.6, 0.1], np.float32)
    assert _histogram(y, p).auc()[0] == pytest.approx(roc_auc_score(y, p))  # 0.875 with the tie
    assert np.isnan(_histogram(np.ones(3), np.array([0.1, 0.2, 0.3])).auc()).all()


def test_keys_order_like_the_probabilities_and_bad_predictions_fail_loudly():
    next_float = float(np.nextafter(np.float32(0.003), np.float32(1)))  # one float32 step above 0.003
    p = np.array([0.0, 1e-45, 1e-30, 1e-7, 0.003, next_float, 0.5, 1 - 1e-7, 1.0])
    keys = auc_metric.score_key(p)
    assert np.all(np.diff(keys) > 0)  # distinct float32 values: distinct keys, in order
    assert auc_metric.score_key(np.array([0.25, np.float32(0.25)])).tolist() == [keys[6] - (1 << 23)] * 2
    for bad in (np.nan, -1e-9, 1.5):
        with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
            auc_metric.score_key(np.array([0.1, bad]))
        with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):  # through the accumulator too
            _histogram(np.array([1.0, 0.0]), np.array([0.1, bad])).auc()


def test_weights_scale_pairs_like_sklearn_sample_weight():
    y, p = _sparse_predictions(5_000, -3.0, seed=2)
    w = np.random.default_rng(3).uniform(0.1, 2.0, len(y))
    assert _histogram(y, p, w).auc()[0] == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)


def test_past_max_bins_the_histogram_coarsens_and_merges_across_resolutions(monkeypatch):
    monkeypatch.setattr(auc_metric, "MAX_BINS", 500)
    monkeypatch.setattr(auc_metric, "_PENDING", 97)
    y, p = _sparse_predictions(6_000, -3.0, seed=8)
    exact = roc_auc_score(y, p)
    whole = _histogram(y, p)
    assert whole.auc()[0] == pytest.approx(exact, abs=1e-3)  # 500 bins of neighbouring floats
    assert len(whole.bins) <= 500 and whole.shift > 10
    # Parts of different sizes reach different resolutions; their merge equals the whole.
    small, large = _histogram(y[:300], p[:300]).compact(), _histogram(y[300:], p[300:]).compact()
    assert small.shift < large.shift
    merged = auc_metric.PredictionHistogram().compact([small, large])
    assert merged.shift == whole.shift
    np.testing.assert_array_equal(merged.bins, whole.bins)
    np.testing.assert_allclose(merged.positives, whole.positives)
    np.testing.assert_allclose(merged.auc(), whole.auc(), atol=1e-12)


def test_through_tfma_metric_computations():
    """The metric as the Evaluator builds it: from an EvalConfig MetricConfig, combining examples."""
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_key="label")], metrics_specs=[tfma.MetricsSpec(
        metrics=[tfma.MetricConfig(class_name="ExactAUC", module=auc_metric.__name__)])])
    metric = tfma.metrics.metric_specs.metric_instance(config.metrics_specs[0].metrics[0])
    computation = metric.computations(eval_config=config, model_names=[""])[0]
    y, p = _sparse_predictions(3_000, -4.0, seed=4)
    combiner = computation.combiner
    halves = [combiner.create_accumulator(), combiner.create_accumulator()]
    for i, (label, prediction) in enumerate(zip(y, p)):
        halves[i % 2] = combiner.add_input(halves[i % 2], metric_types.StandardMetricInputs(
            label=np.array([label]), prediction=np.array([prediction]), example_weight=np.array([1.0])))
    value = combiner.extract_output(combiner.merge_accumulators(halves))
    key, standard_error_key = computation.keys
    assert (key.name, standard_error_key.name) == (auc_metric.AUC_NAME, "auc_standard_error")
    assert value[key] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert value[standard_error_key] == pytest.approx(delong(y, p)[1], rel=1e-6)
