"""Training losses as tf.keras.losses, looked up by name.

Every loss takes labels y in {0, 1} and logits z, and per-example weights w
through Keras' `sample_weight` (beta for positives, 1 for negatives, SPEC 2).
BCE is normalised by the batch size N, not by sum(w):
L_BCE = (1/N) * sum_i w_i * bce(y_i, sigmoid(z_i)).
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from models.hparams import ModelConfig


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class WeightedBCE(tf.keras.losses.Loss):
    """Binary cross-entropy on logits (numerically stable for any logit).

    With Keras' default SUM_OVER_BATCH_SIZE reduction and `sample_weight=w`,
    the value is (1/N) sum_i w_i bce_i, the SPEC's normalisation.
    """

    def __init__(self, name: str = "bce", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.float32)
        logits = tf.reshape(y_pred, [-1])
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


LOSSES: dict[str, Callable[[ModelConfig], tf.keras.losses.Loss]] = {
    "bce": lambda config: WeightedBCE(),
}


def get_loss(config: ModelConfig) -> tf.keras.losses.Loss:
    try:
        return LOSSES[config.loss](config)
    except KeyError:
        raise ValueError(f"loss: unknown {config.loss!r}; available: {', '.join(sorted(LOSSES))}") from None
