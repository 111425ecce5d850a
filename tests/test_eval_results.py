"""evaluation/results.py: the statistics the summary and `sparsectr report` print (Wilson
against SciPy), and the table's handling of withheld and empty slices."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evaluation import results as eval_results


def test_clicks_and_auc_interval_of_a_slice():
    metrics = {"auc": 0.8, "auc_standard_error": 0.02, "example_count": 1000.0, "mean_label": 0.03}
    assert eval_results.clicks(metrics) == 30
    assert eval_results.auc_interval(metrics) == pytest.approx(1.96 * 0.02)
    assert np.isnan(eval_results.auc_interval({"example_count": 50.0}))


@pytest.mark.parametrize("k, n", [(0, 1667), (1, 1667), (22, 1667), (193, 1667), (5, 5)])
def test_wilson_interval_matches_scipy(k, n):
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = eval_results.wilson_interval(k, n, z=stats.norm.ppf(0.975))
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_table_shows_clicks_and_intervals_and_withholds_small_slices():
    rows = [("overall", {"example_count": 2000.0, "weighted_example_count": 1970.0, "mean_label": 0.03, "auc": 0.75,
                         "auc_standard_error": 0.0301, "weighted_binary_crossentropy": 0.12,
                         "binary_crossentropy": 0.13, "calibration": 0.95}),
            ("sparsity [0%, 0.5%)", {"example_count": 40.0}),
            ("sparsity [25%, 100%]", None)]
    lines = eval_results.format_table(rows, min_slice_size=100).splitlines()
    assert lines[0].split() == ["slice", "examples", "clicks", "weighted", "AUC", "±95%", "logloss_w", "logloss",
                                "calib"]
    assert lines[1].split() == ["overall", "2,000", "60", "1,970.0", "0.7500", "0.059", "0.1200", "0.1300", "0.950"]
    assert lines[2].split()[-6:] == ["40", "(metrics", "withheld:", "under", "100", "examples)"]
    assert lines[3].split() == ["sparsity", "[25%,", "100%]", "0"]
