"""TFX Trainer entry point: `run_fn` trains the DCN-V2 on Transform's output
and exports a SavedModel for TF Serving, with the signatures, settings and
warmup requests of models/serving_contract.py.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx

from models import features
from models import resume
from models.calibration import calibrated_logit, fit_calibration
from models.dcn import build_dcn_v2
from models.diagnostics import with_diagnostics
from models.distribute import is_chief, shard_by_data, training_strategy, writable_dir
from models.hparams import MONITORS, ModelConfig
from models.losses import click_logit, get_loss
from models.preprocessing import WEIGHT_KEY
from models.run_files import ASSETS_EXTRA, CONFIG_FILE, HISTORY_FILE, TENSORBOARD_DIR, TRAINING_KEY
from models.sizing import DataSize
from models.transformed_input import transformed_batches
from models.vocabulary import id_counts, most_frequent_values
from models.serving_contract import (EXAMPLES_INPUT, LOGIT_KEY, MISSING, MODEL_LOGIT_KEY, PROBABILITY_KEY,
                                     RAW_SIGNATURE, SERVING_SIGNATURE, TRANSFORM_SIGNATURE, WARMUP_FILE,
                                     serialized_examples, write_warmup_requests)

COUNT_BATCH_SIZE = 8192
DIAGNOSTICS_DIR = "diagnostics"  # in the Trainer's model_run directory


# Trainer custom_config key: the fraction of the train split held out for validation when the
# pipeline has no separate split for it (pipeline/pipeline.py); 0 or absent = validate on eval_files.
HOLDOUT_KEY = "validation_holdout"
_HOLDOUT_BUCKETS = 1000


def _held_out(inputs: dict[str, tf.Tensor], fraction: float) -> tf.Tensor:
    """[batch] bool: the rows of a deterministic `fraction` of all rows, chosen by a hash of the
    row's 39 ids, so the same rows are held out in every epoch and every run, whatever the file order."""
    ids = tf.strings.as_string(tf.stack([inputs[name] for name in features.FEATURE_KEYS], axis=1))
    bucket = tf.strings.to_hash_bucket_fast(tf.strings.reduce_join(ids, axis=1, separator=","), _HOLDOUT_BUCKETS)
    return bucket < round(fraction * _HOLDOUT_BUCKETS)


def make_dataset(file_pattern: list[str], tft_output: tft.TFTransformOutput, batch_size: int, shuffle: bool,
                 seed: int, holdout: float = 0.0, validation: bool = False) -> tf.data.Dataset:
    """(features, label, weight) batches of transformed examples, one pass. With `holdout` > 0, only
    the held-out rows (`validation`) or only the others; batches then hold about that share of
    `batch_size` rows."""
    dataset = transformed_batches(file_pattern, tft_output.transformed_feature_spec(), batch_size, shuffle, seed,
                                  features.LABEL_KEY)

    def split(transformed, label):
        inputs = {name: transformed[name] for name in features.FEATURE_KEYS}
        batch = inputs, tf.reshape(label, [-1, 1]), transformed[WEIGHT_KEY]
        if holdout:
            keep = _held_out(inputs, holdout)
            keep = keep if validation else tf.logical_not(keep)
            batch = tf.nest.map_structure(lambda t: tf.boolean_mask(t, keep), batch)
        return batch

    dataset = dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE)
    if holdout:
        dataset = dataset.filter(lambda inputs, label, weight: tf.size(label) > 0)
    return shard_by_data(dataset.prefetch(tf.data.AUTOTUNE))


def validation_predictions(model: tf.keras.Model, dataset: tf.data.Dataset) -> tuple[np.ndarray, ...]:
    """(click logits, labels, weights) of every row of a (features, label, weight) dataset."""
    parts: list[tuple[np.ndarray, ...]] = []
    for inputs, label, weight in dataset:
        logit = click_logit(model(inputs, training=False))[:, 0]
        parts.append((logit.numpy(), label.numpy().reshape(-1), weight.numpy().reshape(-1)))
    return tuple(np.concatenate(column) for column in zip(*parts))


def fitted_calibration(model: tf.keras.Model, valid: tf.data.Dataset, config: ModelConfig) -> Optional[dict[str, Any]]:
    """The calibration `config.calibration` names, fitted on the validation rows; None for "none"."""
    if config.calibration == "none":
        return None
    return fit_calibration(config.calibration, *validation_predictions(model, valid))


def count_examples(dataset: tf.data.Dataset) -> DataSize:
    """Examples and positives of a (features, label, weight) dataset, in one pass."""
    examples, positives = dataset.reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        lambda acc, batch: (acc[0] + tf.size(batch[1], out_type=tf.int64), acc[1] + tf.reduce_sum(batch[1])))
    return DataSize(int(examples), int(positives))


class NonFiniteLossError(FloatingPointError):
    pass


class FailOnNonFiniteLoss(tf.keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite, with an error: the run fails
    and nothing is exported or pushed (Keras' TerminateOnNaN only stops, and the run would go on)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss is {loss} at epoch {self._epoch + 1}, batch {batch + 1}: training diverged. "
                f"Lower --learning-rate, raise --batch-size, or check the input features; no model was exported.")


def best_epoch(history: dict[str, list[float]], monitor: str) -> int:
    """Index of the epoch early stopping keeps: the best validation `monitor` (MONITORS)."""
    values = history[f"val_{monitor}"]
    return int(np.argmax(values) if MONITORS[monitor] == "max" else np.argmin(values))


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
    _trace_steps_without_autograph(model)


def _trace_steps_without_autograph(model: tf.keras.Model) -> None:
    """Keras traces its train, test and predict steps with AutoGraph, which parses and rewrites the
    source of every layer, loss, metric and optimizer method they reach: most of the first epoch's
    time on this model (docs/PERFORMANCE.md). Nothing they reach branches on a tensor in Python
    (the diagnostics use tf.cond), so the steps are traced as written; the numbers are the same."""
    for step in ("train_step", "test_step", "predict_step"):
        setattr(model, step, tf.autograph.experimental.do_not_convert(getattr(model, step)))


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


def _signatures(model: tf.keras.Model, tft_output: tft.TFTransformOutput,
                calibration: Optional[dict[str, Any]]) -> dict[str, Any]:
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k != features.LABEL_KEY}

    def predict(raw_features: dict) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(raw_features)
        model_logit = click_logit(model({name: transformed[name] for name in features.FEATURE_KEYS}))[:, 0]
        logit = calibrated_logit(calibration, model_logit)
        return {PROBABILITY_KEY: tf.sigmoid(logit), LOGIT_KEY: logit, MODEL_LOGIT_KEY: model_logit}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)], autograph=False)
    def serve(examples):
        return predict(tf.io.parse_example(examples, serving_spec))

    @tf.function(autograph=False)
    def predict_raw(**columns):
        return predict(_raw_columns_to_features(columns, raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)], autograph=False)
    def transform_features(examples):
        return model.tft_layer(tf.io.parse_example(examples, raw_spec))

    raw_inputs = {name: tf.TensorSpec([None], tf.string, name=name) for name in features.FEATURE_KEYS}
    return {SERVING_SIGNATURE: serve, RAW_SIGNATURE: predict_raw.get_concrete_function(**raw_inputs),
            TRANSFORM_SIGNATURE: transform_features}


def _warmup_rows(tft_output: tft.TFTransformOutput) -> list[dict[str, Any]]:
    """Two raw rows for TF Serving's warmup: every categorical at its most frequent training
    value, and a row with every feature missing."""
    return [most_frequent_values(tft_output), {}]


def export_serving_model(model: tf.keras.Model, tft_output: tft.TFTransformOutput, config: ModelConfig,
                         export_dir: str, training: Optional[dict[str, Any]] = None) -> None:
    """The SavedModel, its settings and its warmup requests (models/serving_contract.py)."""
    calibration = (training or {}).get("calibration")
    # Serving needs the signatures and weights only: without the optimizer's slots the SavedModel
    # is a third of the size, and without Keras' per-layer call traces the export does not trace
    # every layer again (docs/PERFORMANCE.md: Trainer start-up).
    model.save(export_dir, save_format="tf", signatures=_signatures(model, tft_output, calibration),
               include_optimizer=False, save_traces=False)
    extra = os.path.join(export_dir, ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(os.path.join(extra, CONFIG_FILE), "w") as f:
        json.dump({**config.to_dict(), **({TRAINING_KEY: training} if training else {})}, f, indent=1, sort_keys=True)
    rows = _warmup_rows(tft_output)
    write_warmup_requests(os.path.join(extra, WARMUP_FILE), serialized_examples(rows), rows)


@dataclasses.dataclass
class TrainingInputs:
    """What a Trainer's run_fn starts from: the settings sized to its training rows, Transform's
    output, and the training and validation datasets at the sized batch size."""
    config: ModelConfig
    tft_output: tft.TFTransformOutput
    train: tf.data.Dataset
    valid: tf.data.Dataset
    record: dict[str, Any]  # written under TRAINING_KEY in model_config.json


def training_inputs(fn_args: tfx.components.FnArgs) -> TrainingInputs:
    """Seeds, counts the training rows, sizes the unset settings (models/sizing.py) and builds the
    datasets: validation on eval_files, or on the rows held out of train (HOLDOUT_KEY)."""
    given = ModelConfig.from_custom_config(fn_args.custom_config)
    tf.keras.utils.set_random_seed(given.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    holdout = float((fn_args.custom_config or {}).get(HOLDOUT_KEY) or 0.0)

    def dataset(files, batch_size, shuffle, validation=False):
        return make_dataset(files, tft_output, batch_size, shuffle, given.seed, holdout, validation)

    size = count_examples(dataset(fn_args.train_files, COUNT_BATCH_SIZE, False))
    config = given.sized(size)
    record = {"examples": size.examples, "positives": size.positives, "sized": list(given.unsized_fields()),
              "validation": f"{holdout:.0%} of train, held out by row hash" if holdout else "eval split"}
    logging.info("Training on %s; settings: %s", record, config.to_dict())
    return TrainingInputs(config, tft_output, dataset(fn_args.train_files, config.batch_size, True),
                          dataset(fn_args.train_files if holdout else fn_args.eval_files, config.batch_size, False,
                                  validation=True), record)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    # Before any other TensorFlow op: MultiWorkerMirroredStrategy sets up the collective ops.
    strategy = training_strategy(ModelConfig.from_custom_config(fn_args.custom_config).distribution)
    inputs = training_inputs(fn_args)
    config, tft_output, train, valid, training = (inputs.config, inputs.tft_output, inputs.train, inputs.valid,
                                                  inputs.record)
    chief = is_chief(strategy)
    model_run_dir = writable_dir(fn_args.model_run_dir, strategy)
    state_dir = resume.backup_dir(fn_args.model_run_dir, {
        "config": fn_args.custom_config, "transform": fn_args.transform_graph_path,
        "train": fn_args.train_files, "eval": fn_args.eval_files})
    monitor, mode = f"val_{config.monitor}", MONITORS[config.monitor]
    early_stopping, backup = resume.resumable_callbacks(
        state_dir, writer=chief, monitor=monitor, mode=mode, patience=config.early_stopping_patience,
        restore_best_weights=True)
    with strategy.scope():
        model = build_dcn_v2(config, id_counts(tft_output, config.categorical_min_count, config.integer_buckets))
        callbacks = [
            FailOnNonFiniteLoss(),
            tf.keras.callbacks.TensorBoard(log_dir=os.path.join(model_run_dir, TENSORBOARD_DIR)),
            # Before early stopping, which records each epoch's logs: it adds the learning rate to them.
            tf.keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.1, patience=1),
            early_stopping,
            backup,
        ]
        if config.diagnostics:
            model, recorders = with_diagnostics(model, config.diagnostics_every,
                                                os.path.join(model_run_dir, DIAGNOSTICS_DIR))
            callbacks += recorders
        compile_model(model, config)
    model.fit(train, validation_data=valid, epochs=config.epochs, callbacks=callbacks, verbose=2)
    training["replicas"] = strategy.num_replicas_in_sync
    if early_stopping.resumed_at:
        training["resumed_at_epoch"] = early_stopping.resumed_at + 1
        logging.info("Training resumed at epoch %d from %s", early_stopping.resumed_at + 1, state_dir)
    epochs = early_stopping.history()
    logging.info("Training history: %s", epochs)
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, HISTORY_FILE), "w") as f:
        json.dump(epochs, f, indent=1)
    calibration = fitted_calibration(model, valid, config)
    if calibration:
        training["calibration"] = calibration
    export_dir = writable_dir(fn_args.serving_model_dir, strategy)
    export_serving_model(model, tft_output, config, export_dir, training)
    if not chief:  # every worker takes part in saving a distributed model; only the chief's is kept
        tf.io.gfile.rmtree(os.path.dirname(export_dir))
        tf.io.gfile.rmtree(os.path.dirname(model_run_dir))
    elif tf.io.gfile.exists(state_dir):
        tf.io.gfile.rmtree(state_dir)
