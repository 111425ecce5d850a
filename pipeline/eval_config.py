"""TFMA EvalConfig: metrics, slices and blessing thresholds."""
from __future__ import annotations

import tensorflow_model_analysis as tfma

from models import features
from models.preprocessing import WEIGHT_KEY
from models.trainer import PROBABILITY_KEY
from pipeline.config import PipelineConfig

AUC_THRESHOLDS = 10_000  # enough for 4-digit AUC


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """AUC, logloss (beta-weighted and unweighted) and example counts, overall.

    Blessing: AUC at least `min_auc`; against the latest blessed model (when
    there is one), AUC may drop by at most `auc_tolerance` and the weighted
    logloss rise by at most `logloss_tolerance`.
    """
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": config.min_auc}),
        change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                                     absolute={"value": -config.auc_tolerance}),
    )
    logloss_threshold = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.LOWER_IS_BETTER,
                                                     absolute={"value": config.logloss_tolerance}),
    )
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
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),  # the sum of weights
                    tfma.MetricConfig(class_name="BinaryCrossentropy", threshold=logloss_threshold),
                ],
                example_weights=tfma.ExampleWeightOptions(weighted=True),
            ),
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    # AUC is the same weighted or not: beta weighs every positive alike (SPEC 2).
                    tfma.MetricConfig(class_name="AUC", config=f'{{"num_thresholds": {AUC_THRESHOLDS}}}',
                                      threshold=auc_threshold),
                    tfma.MetricConfig(class_name="BinaryCrossentropy"),
                    tfma.MetricConfig(class_name="MeanLabel"),
                    tfma.MetricConfig(class_name="MeanPrediction"),
                ],
                example_weights=tfma.ExampleWeightOptions(unweighted=True),
            ),
        ],
    )
