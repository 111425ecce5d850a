"""Gradient diagnostics (docs/SCIENCE.md §4), off unless `ModelConfig.diagnostics`.

`DiagnosedModel` runs the usual train step, but takes the gradient of the
whole loss (1/N, weights, regularisers included) with respect to the model's
output in the same backward pass as the weights' gradients, and keeps in
variables:
- every batch: mean |dL/dz| over the batch's negatives and over its positives
  (z = the click logit, output column 0);
- every `every` steps: the 10th/50th/90th percentile and mean of |gradient|
  per layer group (output, dnn, cross, embeddings) and the negatives' |dL/dz|.

`GradientDiagnostics` (a callback) reads them after each batch and writes
`batches.csv`, `layers.csv` and `negative_histograms.json` to its directory,
and the same as TensorBoard scalars and histograms. `with_diagnostics` puts
the two together.
"""
from __future__ import annotations

import csv
import json
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from models.dcn import CROSS_PREFIX, DNN_PREFIX, EMBEDDING_PREFIX

LAYER_GROUPS = ("output", "dnn", "cross", "embeddings")
PERCENTILES = (10, 50, 90)
# Histogram of log10 |dL/dz| of negatives: fixed bins, comparable across runs.
HISTOGRAM_EDGES = np.linspace(-14.0, 0.0, 57)
BATCHES_FILE, LAYERS_FILE, HISTOGRAMS_FILE = "batches.csv", "layers.csv", "negative_histograms.json"


def layer_group(variable_name: str) -> str:
    """The group of a DCN-V2 variable, by the layer names of models/dcn.py."""
    if variable_name.startswith(EMBEDDING_PREFIX):
        return "embeddings"
    if variable_name.startswith(CROSS_PREFIX):
        return "cross"
    if variable_name.startswith(DNN_PREFIX):
        return "dnn"
    return "output"  # the logit layer (and the contrastive projection head)


def _abs_values(gradient) -> tf.Tensor:
    values = gradient.values if isinstance(gradient, tf.IndexedSlices) else gradient
    return tf.reshape(tf.abs(values), [-1])


def percentiles_and_mean(values: tf.Tensor) -> tf.Tensor:
    """[p10, p50, p90, mean] of a 1-D tensor; percentile q is the sorted value at
    index floor(q/100 * (n - 1)) (NumPy's method="lower")."""
    ordered = tf.sort(values)
    n = tf.cast(tf.size(ordered) - 1, tf.float32)
    picks = [ordered[tf.cast(tf.floor(q / 100 * n), tf.int32)] for q in PERCENTILES]
    return tf.stack(picks + [tf.reduce_mean(values)])


class DiagnosedModel(tf.keras.Model):
    """A functional model whose train step also records gradient diagnostics."""

    def __init__(self, *args, every: int = 20, **kwargs):
        super().__init__(*args, **kwargs)
        self.every = every
        self.diag_negative = tf.Variable(0.0, trainable=False, name="diag_negative")
        self.diag_positive = tf.Variable(0.0, trainable=False, name="diag_positive")
        self.diag_counts = tf.Variable([0.0, 0.0], trainable=False, name="diag_counts")
        self.diag_layers = tf.Variable(tf.zeros([len(LAYER_GROUPS), len(PERCENTILES) + 1]), trainable=False,
                                       name="diag_layers")
        self.diag_negative_gradients = tf.Variable(tf.zeros([0]), shape=tf.TensorShape([None]), trainable=False,
                                                   name="diag_negative_gradients")

    def train_step(self, data):
        x, y, sample_weight = tf.keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            output = self(x, training=True)
            loss = self.compute_loss(x, y, output, sample_weight)
        variables = self.trainable_variables
        gradients = tape.gradient(loss, variables + [output])
        self.optimizer.apply_gradients(zip(gradients[:-1], variables))
        self._record(y, gradients[-1][:, 0], gradients[:-1], variables)
        return self.compute_metrics(x, y, output, sample_weight)

    def _record(self, y, logit_gradient, gradients, variables) -> None:
        magnitude = tf.abs(logit_gradient)
        negative = tf.reshape(tf.cast(y, tf.float32), [-1]) < 0.5
        counts = tf.stack([tf.reduce_sum(tf.cast(negative, tf.float32)),
                           tf.reduce_sum(tf.cast(~negative, tf.float32))])
        self.diag_counts.assign(counts)
        self.diag_negative.assign(tf.reduce_sum(tf.where(negative, magnitude, 0.0)) / tf.maximum(counts[0], 1.0))
        self.diag_positive.assign(tf.reduce_sum(tf.where(negative, 0.0, magnitude)) / tf.maximum(counts[1], 1.0))

        def layers() -> tf.Tensor:
            rows = []
            for group in LAYER_GROUPS:
                parts = [_abs_values(g) for g, v in zip(gradients, variables)
                         if g is not None and layer_group(v.name) == group]
                rows.append(percentiles_and_mean(tf.concat(parts, 0)) if parts
                            else tf.zeros([len(PERCENTILES) + 1]))
            self.diag_negative_gradients.assign(tf.boolean_mask(magnitude, negative))
            return tf.stack(rows)

        step = self.optimizer.iterations - 1  # apply_gradients has counted this step
        self.diag_layers.assign(tf.cond(self.is_layer_step(step), layers, lambda: tf.identity(self.diag_layers)))

    def is_layer_step(self, step):
        """Whether layer percentiles and the histogram are recorded at this (0-based) step."""
        return step % self.every == 0


class GradientDiagnostics(tf.keras.callbacks.Callback):
    """Writes what a DiagnosedModel recorded, after each batch; the step and
    whether layer values were recorded come from the model itself."""

    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory
        self._epoch = 0
        self._histograms: list[dict] = []
        self._writer: Optional[tf.summary.SummaryWriter] = None

    def on_train_begin(self, logs=None):
        tf.io.gfile.makedirs(self.directory)
        self._batches = tf.io.gfile.GFile(os.path.join(self.directory, BATCHES_FILE), "w")
        self._layers = tf.io.gfile.GFile(os.path.join(self.directory, LAYERS_FILE), "w")
        self._batch_csv = csv.writer(self._batches)
        self._layer_csv = csv.writer(self._layers)
        self._batch_csv.writerow(["step", "epoch", "negatives", "positives", "mean_abs_grad_negatives",
                                  "mean_abs_grad_positives"])
        self._layer_csv.writerow(["step", "group"] + [f"p{q}" for q in PERCENTILES] + ["mean"])
        self._writer = tf.summary.create_file_writer(os.path.join(self.directory, "tensorboard"))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        model = self.model
        step = int(model.optimizer.iterations.numpy()) - 1
        negatives, positives = model.diag_counts.numpy()
        grad_negative, grad_positive = float(model.diag_negative.numpy()), float(model.diag_positive.numpy())
        self._batch_csv.writerow([step, self._epoch, int(negatives), int(positives),
                                  f"{grad_negative:.6e}", f"{grad_positive:.6e}"])
        with self._writer.as_default(step=step):
            tf.summary.scalar("gradient/mean_abs_dL_dz_negatives", grad_negative)
            if positives:
                tf.summary.scalar("gradient/mean_abs_dL_dz_positives", grad_positive)
            if model.is_layer_step(step):
                self._write_layers(step, model.diag_layers.numpy(), model.diag_negative_gradients.numpy())

    def _write_layers(self, step: int, layers: np.ndarray, negative_gradients: np.ndarray) -> None:
        for group, row in zip(LAYER_GROUPS, layers):
            self._layer_csv.writerow([step, group] + [f"{v:.6e}" for v in row])
            for name, value in zip([f"p{q}" for q in PERCENTILES] + ["mean"], row):
                tf.summary.scalar(f"layer_gradient/{group}/{name}", float(value))
        logs = np.log10(np.maximum(negative_gradients, 1e-300))
        counts, _ = np.histogram(np.clip(logs, HISTOGRAM_EDGES[0], HISTOGRAM_EDGES[-1]), bins=HISTOGRAM_EDGES)
        self._histograms.append({"step": step, "counts": counts.tolist()})
        tf.summary.histogram("gradient/log10_abs_dL_dz_negatives", logs)

    def on_train_end(self, logs=None):
        self._batches.close()
        self._layers.close()
        with tf.io.gfile.GFile(os.path.join(self.directory, HISTOGRAMS_FILE), "w") as f:
            json.dump({"log10_edges": HISTOGRAM_EDGES.tolist(), "histograms": self._histograms}, f)
        self._writer.close()


def with_diagnostics(model: tf.keras.Model, every: int, directory: str
                     ) -> tuple[DiagnosedModel, list[tf.keras.callbacks.Callback]]:
    """The same network as a DiagnosedModel, and the callback writing to `directory`."""
    diagnosed = DiagnosedModel(inputs=model.inputs, outputs=model.outputs, every=every)
    return diagnosed, [GradientDiagnostics(directory)]
