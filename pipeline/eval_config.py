"""TFMA EvalConfig: metrics, slices and blessing thresholds."""
from __future__ import annotations

import tensorflow_model_analysis as tfma

from models import features
from models.preprocessing import WEIGHT_KEY
from models.slices import slice_key
from models.sparsity import SPARSITY_BUCKET_KEY
from models.serving_contract import PROBABILITY_KEY
from pipeline import auc_metric
from pipeline.config import PipelineConfig

CALIBRATION_PLOT_BUCKETS = 1000


def slicing_specs(config: PipelineConfig) -> list[tfma.SlicingSpec]:
    """Overall, by sparsity bucket and by the raw value of each configured slice feature (all three
    are transformed features: models/sparsity.py, models/slices.py)."""
    return [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[SPARSITY_BUCKET_KEY])] + [
        tfma.SlicingSpec(feature_keys=[slice_key(name)]) for name in config.model.slice_features]


def eval_config(config: PipelineConfig, reference: bool = False) -> tfma.EvalConfig:
    """AUC (pipeline/auc_metric.py), logloss (beta-weighted and unweighted),
    calibration (mean prediction / mean label, weighted and not), example
    counts (weighted and not) and a calibration plot; overall and per slice.

    `min_slice_size` is applied where results are read (pipeline/eval_results.py),
    not through TFMA's Options.min_slice_size: in TFMA 0.47 a slice withheld that
    way fails every threshold, even one scoped to the overall slice
    (evaluators/metrics_validator.py: unchecked thresholds are failures without
    a slice check), so one small bucket would stop every model's blessing.

    Blessing: AUC at least `min_auc`; against the latest blessed model (when
    there is one), AUC may drop by at most `auc_tolerance` and the weighted
    logloss rise by at most `logloss_tolerance`.

    `reference`: for the logistic-regression baseline (BaselineEvaluator): the
    same metrics on the overall slice, no thresholds (it is measured, not blessed).
    """
    # A MetricConfig's `threshold` would gate every slice, and a bucket without
    # positives has no AUC; blessing judges the overall slice.
    overall = [tfma.SlicingSpec()]
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": config.min_auc}),
        change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                                     absolute={"value": -config.auc_tolerance}),
    )
    logloss_threshold = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.LOWER_IS_BETTER,
                                                     absolute={"value": config.logloss_tolerance}),
    )
    auc_thresholds = [] if reference else [tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=auc_threshold)]
    logloss_thresholds = [] if reference else [
        tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=logloss_threshold)]
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
        slicing_specs=overall if reference else slicing_specs(config),
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),  # the sum of weights
                    tfma.MetricConfig(class_name="BinaryCrossentropy", per_slice_thresholds=logloss_thresholds),
                    tfma.MetricConfig(class_name="Calibration"),
                ],
                example_weights=tfma.ExampleWeightOptions(weighted=True),
            ),
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    # AUC is the same weighted or not: beta weighs every positive alike (SPEC 2).
                    tfma.MetricConfig(class_name=auc_metric.ExactAUC.__name__, module=auc_metric.__name__,
                                      per_slice_thresholds=auc_thresholds),
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
