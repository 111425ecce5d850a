"""The logistic-regression baseline trained in every run (TFX Trainer `BaselineTrainer`).

A DCN-V2 that does not beat a logistic regression on the same ids is not
worth serving, and on small data that can happen (docs/PERFORMANCE.md). This
is that regression: one weight per id of every field (the same Transform
output, vocabulary minimum count and validation rows as the DCN-V2), summed,
plus a bias; L2 on the weights with the strength scikit-learn's
LogisticRegression(C=LR_C) has (per example: mean logloss + |w|^2 / (2 C n)),
C tuned on validation rows of both the real Kaggle sample and the default
generated data; Adam; the epoch of best validation weighted logloss kept;
calibrated as the DCN-V2 is (`calibration`, fitted on the same validation
rows), so that neither wins on logloss by calibration alone. It is exported
with the same serving signatures, so the Evaluator scores it on
the same split the same way (pipeline/pipeline.py: BaselineEvaluator).
"""
from __future__ import annotations

import tensorflow as tf
from absl import logging
from tfx import v1 as tfx

from models import features
from models.dcn import CapIds
from models.hparams import TRANSFORM_FIELDS, ModelConfig
from models.trainer import FailOnNonFiniteLoss, compile_model, export_serving_model, fitted_calibration, training_inputs
from models.vocabulary import id_counts

# The settings run_fn reads (the rest of the DCN-V2's may change without re-training the baseline).
BASELINE_FIELDS = TRANSFORM_FIELDS + ("batch_size", "seed", "calibration")
LR_C = 0.03
LEARNING_RATE = 1e-2
EPOCHS = 10
PATIENCE = 2


@tf.autograph.experimental.do_not_convert  # as models/dcn.py's build_dcn_v2
def build_logistic_regression(vocabulary_sizes: dict[str, int], l2: float) -> tf.keras.Model:
    """logit = bias + sum over fields of w_field[id] ([batch, 1], as models/dcn.py's click logit)."""
    inputs = {name: tf.keras.Input(shape=(), name=name, dtype=tf.int64) for name in features.FEATURE_KEYS}
    weights = [
        tf.keras.layers.Embedding(vocabulary_sizes[name], 1, embeddings_initializer="zeros",
                                  embeddings_regularizer=tf.keras.regularizers.l2(l2), name=f"weight_{name}")(
            CapIds(vocabulary_sizes[name] - 1, name=f"cap_{name}")(inputs[name]))
        for name in features.FEATURE_KEYS
    ]
    summed = tf.keras.layers.Add(name="sum")(weights)
    logit = tf.keras.layers.Dense(1, kernel_initializer="ones", name="logit")(summed)
    return tf.keras.Model(inputs=inputs, outputs=logit, name="logistic_regression")


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    inputs = training_inputs(fn_args)
    config = inputs.config
    l2 = 1.0 / (2 * LR_C * inputs.record["examples"])
    model = build_logistic_regression(
        id_counts(inputs.tft_output, config.categorical_min_count, config.integer_buckets), l2)
    compile_model(model, ModelConfig(loss="bce", beta=config.beta, learning_rate=LEARNING_RATE))
    history = model.fit(
        inputs.train, validation_data=inputs.valid, epochs=EPOCHS, verbose=2,
        callbacks=[FailOnNonFiniteLoss(),
                   tf.keras.callbacks.EarlyStopping(monitor="val_weighted_logloss", patience=PATIENCE,
                                                    restore_best_weights=True)])
    logging.info("Baseline history: %s", history.history)
    training = {**inputs.record, "model": "logistic regression", "l2": l2, "epochs": len(history.history["loss"])}
    calibration = fitted_calibration(model, inputs.valid, config)  # as the DCN-V2's: the same rows, the same kind
    if calibration:
        training["calibration"] = calibration
    export_serving_model(model, inputs.tft_output, config, fn_args.serving_model_dir, training)
