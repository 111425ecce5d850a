"""TFX Trainer entry point: `run_fn` trains the DCN-V2 on Transform's output
and exports a SavedModel for TF Serving, with the signatures, settings and
warmup requests of models/serving_contract.py.
"""
from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from models import features
from models.dcn import build_dcn_v2
from models.diagnostics import with_diagnostics
from models.hparams import ModelConfig
from models.losses import click_logit, get_loss
from models.preprocessing import WEIGHT_KEY, vocabulary_name
from models.serving_contract import (ASSETS_EXTRA, CONFIG_FILE, EXAMPLES_INPUT, LOGIT_KEY, MISSING, PROBABILITY_KEY,
                                     RAW_SIGNATURE, SERVING_SIGNATURE, TRANSFORM_SIGNATURE, WARMUP_FILE,
                                     serialized_examples, write_warmup_requests)

HISTORY_FILE = "history.json"
DIAGNOSTICS_DIR = "diagnostics"  # in the Trainer's model_run directory


def vocabulary_sizes(tft_output: tft.TFTransformOutput, config: ModelConfig) -> dict[str, int]:
    """Number of ids per field, as preprocessing_fn assigns them."""
    sizes = {name: config.integer_buckets + 1 for name in features.INTEGER_FEATURE_KEYS}
    for name in features.CATEGORICAL_FEATURE_KEYS:
        sizes[name] = tft_output.vocabulary_size_by_name(vocabulary_name(name)) + 2  # + missing + OOV
    return sizes


def make_dataset(file_pattern: list[str], data_accessor, tft_output: tft.TFTransformOutput, batch_size: int,
                 shuffle: bool, seed: int) -> tf.data.Dataset:
    """(features, label, weight) batches of transformed examples, one pass."""
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=features.LABEL_KEY, num_epochs=1,
                                       shuffle=shuffle, shuffle_seed=seed),
        tft_output.transformed_metadata.schema,
    )

    def split(transformed, label):
        inputs = {name: transformed[name] for name in features.FEATURE_KEYS}
        return inputs, tf.reshape(label, [-1, 1]), transformed[WEIGHT_KEY]

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class _OnClickLogit:
    """Mixin: a Keras metric computed on the click logit (column 0 of any head's output)."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(y_true, click_logit(y_pred), sample_weight)


class ClickAUC(_OnClickLogit, tf.keras.metrics.AUC):
    pass


class ClickLogloss(_OnClickLogit, tf.keras.metrics.BinaryCrossentropy):
    pass


def compile_model(model: tf.keras.Model, config: ModelConfig) -> None:
    model.compile(
        optimizer=tf.keras.optimizers.Adam(config.learning_rate),
        loss=get_loss(config),
        metrics=[ClickAUC(num_thresholds=2000, from_logits=True, name="auc")],
        weighted_metrics=[ClickLogloss(from_logits=True, name="weighted_logloss")],
    )


def _raw_columns_to_features(columns: dict[str, tf.Tensor], raw_spec: dict) -> dict[str, tf.SparseTensor]:
    """`predict_raw`'s [batch] strings ("" = missing) -> the sparse features tf.io.parse_example gives."""
    parsed = {}
    for name in features.FEATURE_KEYS:
        text = columns[name]
        present = tf.not_equal(text, MISSING)
        values = tf.boolean_mask(text, present)
        if raw_spec[name].dtype == tf.int64:
            check = tf.debugging.Assert(tf.reduce_all(tf.strings.regex_full_match(values, "-?[0-9]+")),
                                        [f"{name}: expected a decimal integer or \"\" (missing), got", values])
            with tf.control_dependencies([check]):
                values = tf.strings.to_number(values, tf.int64)
        rows = tf.where(present)
        parsed[name] = tf.SparseTensor(tf.concat([rows, tf.zeros_like(rows)], axis=1), values,
                                       tf.stack([tf.size(text, out_type=tf.int64), tf.constant(1, tf.int64)]))
    return parsed


def _signatures(model: tf.keras.Model, tft_output: tft.TFTransformOutput) -> dict[str, Any]:
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k != features.LABEL_KEY}

    def predict(raw_features: dict) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(raw_features)
        logit = click_logit(model({name: transformed[name] for name in features.FEATURE_KEYS}))[:, 0]
        return {PROBABILITY_KEY: tf.sigmoid(logit), LOGIT_KEY: logit}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
    def serve(examples):
        return predict(tf.io.parse_example(examples, serving_spec))

    @tf.function
    def predict_raw(**columns):
        return predict(_raw_columns_to_features(columns, raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
    def transform_features(examples):
        return model.tft_layer(tf.io.parse_example(examples, raw_spec))

    raw_inputs = {name: tf.TensorSpec([None], tf.string, name=name) for name in features.FEATURE_KEYS}
    return {SERVING_SIGNATURE: serve, RAW_SIGNATURE: predict_raw.get_concrete_function(**raw_inputs),
            TRANSFORM_SIGNATURE: transform_features}


def _warmup_rows(tft_output: tft.TFTransformOutput) -> list[dict[str, Any]]:
    """Two raw rows for TF Serving's warmup: every categorical at its most frequent training
    value, and a row with every feature missing."""
    frequent = {}
    for name in features.CATEGORICAL_FEATURE_KEYS:
        vocabulary = tft_output.vocabulary_by_name(vocabulary_name(name))
        if vocabulary:
            frequent[name] = vocabulary[0]
    return [frequent, {}]


def export_serving_model(model: tf.keras.Model, tft_output: tft.TFTransformOutput, config: ModelConfig,
                         export_dir: str) -> None:
    """The SavedModel, its settings and its warmup requests (models/serving_contract.py)."""
    # Serving needs the signatures and weights only: without the optimizer's
    # slots the SavedModel is a third of the size, and without Keras' per-layer
    # call traces the export takes 0.5 s instead of 4-5 s.
    model.save(export_dir, save_format="tf", signatures=_signatures(model, tft_output),
               include_optimizer=False, save_traces=False)
    extra = os.path.join(export_dir, ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(os.path.join(extra, CONFIG_FILE), "w") as f:
        json.dump(config.to_dict(), f, indent=1, sort_keys=True)
    rows = _warmup_rows(tft_output)
    write_warmup_requests(os.path.join(extra, WARMUP_FILE), serialized_examples(rows), rows)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    config = ModelConfig.from_custom_config(fn_args.custom_config)
    tf.keras.utils.set_random_seed(config.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    train = make_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, config.batch_size, True, config.seed)
    valid = make_dataset(fn_args.eval_files, fn_args.data_accessor, tft_output, config.batch_size, False, config.seed)

    model = build_dcn_v2(config, vocabulary_sizes(tft_output, config))
    callbacks = [
        tf.keras.callbacks.TensorBoard(log_dir=os.path.join(fn_args.model_run_dir, "tensorboard")),
        tf.keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=config.early_stopping_patience,
                                         restore_best_weights=True),
        tf.keras.callbacks.ReduceLROnPlateau(monitor="val_auc", mode="max", factor=0.1, patience=1),
    ]
    if config.diagnostics:
        model, recorders = with_diagnostics(model, config.diagnostics_every,
                                            os.path.join(fn_args.model_run_dir, DIAGNOSTICS_DIR))
        callbacks += recorders
    compile_model(model, config)
    history = model.fit(train, validation_data=valid, epochs=config.epochs, callbacks=callbacks, verbose=2)
    epochs = {k: [float(v) for v in values] for k, values in history.history.items()}
    logging.info("Training history: %s", epochs)
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), "w") as f:
        json.dump(epochs, f, indent=1)
    export_serving_model(model, tft_output, config, fn_args.serving_model_dir)
