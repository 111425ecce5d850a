"""TFMA EvalConfig: metrics, slices and blessing thresholds."""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import tensorflow_model_analysis as tfma

from evaluation import auc_metric
from evaluation.thresholds import BlessingThresholds
from models import features
from models.preprocessing import WEIGHT_KEY
from models.serving_contract import PROBABILITY_KEY
from models.slices import slice_key
from models.sparsity import SPARSITY_BUCKET_KEY

CALIBRATION_PLOT_BUCKETS = 1000
AUC_METRIC = auc_metric.ExactAUC.__name__
LOGLOSS_METRIC = "BinaryCrossentropy"


def blessing_thresholds(min_auc: float, auc_tolerance: float, logloss_tolerance: float) -> dict[str, tfma.MetricThreshold]:
    """The blessing rule by metric: AUC at least `min_auc` and, against the latest blessed model,
    at most `auc_tolerance` lower; weighted logloss at most `logloss_tolerance` higher."""
    return {
        AUC_METRIC: tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_auc}),
            change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                                         absolute={"value": -auc_tolerance})),
        LOGLOSS_METRIC: tfma.MetricThreshold(
            change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.LOWER_IS_BETTER,
                                                         absolute={"value": logloss_tolerance})),
    }


def set_blessing_thresholds(config: tfma.EvalConfig, min_auc: float, auc_tolerance: float,
                            logloss_tolerance: float) -> None:
    """Replaces, in place, the blessing thresholds eval_config() put in `config` (a run's settings
    on Kubeflow: components/run_settings)."""
    thresholds = blessing_thresholds(min_auc, auc_tolerance, logloss_tolerance)
    replaced = set()
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                per_slice.threshold.CopyFrom(thresholds[metric.class_name])
                replaced.add(metric.class_name)
    if replaced != set(thresholds):
        raise ValueError(f"eval_config: expected blessing thresholds on {sorted(thresholds)}, found them on "
                         f"{sorted(replaced)} (a reference evaluation has none to set)")


def slicing_specs(slice_features: Sequence[str]) -> list[tfma.SlicingSpec]:
    """Overall, by sparsity bucket and by the raw value of each configured slice feature (all three
    are transformed features: models/sparsity.py, models/slices.py)."""
    return [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[SPARSITY_BUCKET_KEY])] + [
        tfma.SlicingSpec(feature_keys=[slice_key(name)]) for name in slice_features]


def eval_config(slice_features: Sequence[str] = (), thresholds: Optional[BlessingThresholds] = None
                ) -> tfma.EvalConfig:
    """AUC (evaluation/auc_metric.py), logloss (beta-weighted and unweighted),
    calibration (mean prediction / mean label, weighted and not), example
    counts (weighted and not) and a calibration plot; overall and per slice.

    `min_slice_size` is applied where results are read (evaluation/results.py),
    not through TFMA's Options.min_slice_size: in TFMA 0.47 a slice withheld that
    way fails every threshold, even one scoped to the overall slice
    (evaluators/metrics_validator.py: unchecked thresholds are failures without
    a slice check), so one small bucket would stop every model's blessing.

    Slices: overall, by sparsity bucket and by the raw value of each of `slice_features`.
    Blessing: `thresholds` on the overall slice. Without thresholds, a reference evaluation (the
    logistic-regression baseline's BaselineEvaluator): the same metrics on the overall slice
    only; it is measured, not blessed.
    """
    # A MetricConfig's `threshold` would gate every slice, and a bucket without
    # positives has no AUC; blessing judges the overall slice.
    reference = thresholds is None
    by_metric = {} if reference else blessing_thresholds(**dataclasses.asdict(thresholds))

    def per_slice(class_name: str) -> list[tfma.PerSliceMetricThreshold]:
        return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=by_metric[class_name])
                ] if class_name in by_metric else []

    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                # Evaluate through the exported signatures, as TF Serving will,
                # not by re-loading the Keras object with its custom losses.
                model_type=tfma.TF_GENERIC,
                signature_name="serving_default",
                preprocessing_function_names=["transform_features"],
                prediction_key=PROBABILITY_KEY,
                label_key=features.LABEL_KEY,
                example_weight_key=WEIGHT_KEY,
            )
        ],
        slicing_specs=[tfma.SlicingSpec()] if reference else slicing_specs(slice_features),
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),  # the sum of weights
                    tfma.MetricConfig(class_name=LOGLOSS_METRIC, per_slice_thresholds=per_slice(LOGLOSS_METRIC)),
                    tfma.MetricConfig(class_name="Calibration"),
                ],
                example_weights=tfma.ExampleWeightOptions(weighted=True),
            ),
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    # AUC is the same weighted or not: beta weighs every positive alike (docs/SCIENCE.md §2).
                    tfma.MetricConfig(class_name=AUC_METRIC, module=auc_metric.__name__,
                                      per_slice_thresholds=per_slice(AUC_METRIC)),
                    tfma.MetricConfig(class_name="BinaryCrossentropy"),
                    tfma.MetricConfig(class_name="Calibration"),
                    tfma.MetricConfig(class_name="MeanLabel"),
                    tfma.MetricConfig(class_name="MeanPrediction"),
                    tfma.MetricConfig(class_name="CalibrationPlot",
                                      config=f'{{"num_buckets": {CALIBRATION_PLOT_BUCKETS}}}'),
                ],
                example_weights=tfma.ExampleWeightOptions(unweighted=True),
            ),
        ],
    )
