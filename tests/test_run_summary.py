"""The run summary's comparison with the logistic-regression baseline."""
from __future__ import annotations

from sparsectr.run import baseline_comparison, beats_baseline

BASELINE = {"auc": 0.7700, "weighted_binary_crossentropy": 0.1230, "calibration": 0.98}


def test_a_model_better_on_both_metrics_is_said_to_beat_the_baseline():
    model = {"auc": 0.7750, "weighted_binary_crossentropy": 0.1220}
    assert beats_baseline(model, BASELINE) == {"auc": True, "logloss": True}
    line = baseline_comparison(model, BASELINE, "test")
    assert "WARNING" not in line and "the DCN-V2 beats it: AUC +0.0050, logloss -0.0010" in line
    assert line.startswith("logistic-regression baseline on test (same rows, models/baseline.py): AUC 0.7700")


def test_a_model_worse_on_either_metric_gets_a_warning_naming_it():
    worse_auc = {"auc": 0.7650, "weighted_binary_crossentropy": 0.1220}
    line = baseline_comparison(worse_auc, BASELINE, "eval")
    assert "WARNING: the DCN-V2 does not beat the logistic-regression baseline on auc " in line
    assert "(AUC 0.7650 vs 0.7700, logloss 0.1220 vs 0.1230)" in line
    worse_both = {"auc": 0.7650, "weighted_binary_crossentropy": 0.1240}
    assert "on auc and logloss" in baseline_comparison(worse_both, BASELINE, "eval")
    tie = {"auc": 0.7700, "weighted_binary_crossentropy": 0.1230}  # a tie does not beat it
    assert beats_baseline(tie, BASELINE) == {"auc": False, "logloss": False}
