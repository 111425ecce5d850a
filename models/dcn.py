"""DCN-V2 (Wang et al. 2021) on TensorFlow Recommenders' cross layers.

One embedding per field (39 fields, `embedding_dim` each), concatenated into
x0. Parallel structure (docs/SCIENCE.md §5 default): a cross network of `cross_layers`
`tfrs.layers.dcn.Cross` layers (x_{l+1} = x0 * (W x_l + b) + x_l) beside a
ReLU DNN with dropout, concatenated into one linear output. Stacked: the DNN
on top of the cross network. `cross_projection_dim > 0` makes W low-rank.
The model outputs [batch, K]: column 0 is the click logit, probabilities are
sigmoid(column 0); JRC and the contrastive loss add columns (models/losses.py).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from models import features
from models.hparams import ModelConfig
from models.losses import CLICK_HEAD, TWO_LOGIT_HEAD, get_loss

LOGIT_LAYER = "logit"
# Layer name prefixes (models/diagnostics.py groups gradients by them).
EMBEDDING_PREFIX, CROSS_PREFIX, DNN_PREFIX = "embedding_", "cross_", "dnn_"
PROJECTION_HIDDEN = 64  # contrastive projection head: Dense(64, relu) -> Dense(projection_dim)


class CapIds(tf.keras.layers.Layer):
    """Ids above `max_id` become `max_id`. With a vocabulary minimum count raised by the Trainer
    (models/vocabulary.py), `max_id` is the OOV id and the ids capped are the rarer values."""

    def __init__(self, max_id: int, **kwargs):
        super().__init__(**kwargs)
        self.max_id = max_id

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.minimum(ids, tf.constant(self.max_id, ids.dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "max_id": self.max_id}


# Built without AutoGraph, which would parse and rewrite every layer's source to infer its output
# (as it would the training steps: models/trainer.py, _trace_steps_without_autograph).
@tf.autograph.experimental.do_not_convert
def build_dcn_v2(config: ModelConfig, vocabulary_sizes: dict[str, int]) -> tf.keras.Model:
    """`vocabulary_sizes[name]` is the number of ids of field `name` (ids 0..size-1; larger ids share
    id size-1)."""
    if config.embedding_l2 is None or config.dropout is None:
        raise ValueError("build_dcn_v2: embedding_l2 and dropout are unset; size the settings first "
                         "(ModelConfig.sized, models/sizing.py) or give them")
    inputs = {name: tf.keras.Input(shape=(), name=name, dtype=tf.int64) for name in features.FEATURE_KEYS}
    regularizer = tf.keras.regularizers.l2(config.embedding_l2) if config.embedding_l2 else None
    embedded = [
        tf.keras.layers.Embedding(vocabulary_sizes[name], config.embedding_dim, embeddings_regularizer=regularizer,
                                  name=f"{EMBEDDING_PREFIX}{name}")(
            CapIds(vocabulary_sizes[name] - 1, name=f"cap_{name}")(inputs[name]))
        for name in features.FEATURE_KEYS
    ]
    x0 = tf.keras.layers.Concatenate(name="embeddings")(embedded)

    def cross_network(x):
        crossed = x
        for i in range(config.cross_layers):
            crossed = tfrs.layers.dcn.Cross(projection_dim=config.cross_projection_dim or None,
                                            name=f"{CROSS_PREFIX}{i}")(x, crossed)
        return crossed

    def dnn(x):
        for i, units in enumerate(config.dnn_units):
            x = tf.keras.layers.Dense(units, activation="relu", name=f"{DNN_PREFIX}{i}")(x)
            if config.dropout:
                x = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
        return x

    if config.structure == "parallel":
        top = tf.keras.layers.Concatenate(name="cross_and_deep")([cross_network(x0), dnn(x0)])
    else:
        top = dnn(cross_network(x0))
    return tf.keras.Model(inputs=inputs, outputs=_head(config, top), name="dcn_v2")


def _head(config: ModelConfig, top: tf.Tensor) -> tf.Tensor:
    """The head the configured loss needs (its `head`): [batch, K], column 0 the click logit
    (models/losses.py: click_logit)."""
    head = get_loss(config).head
    if head == TWO_LOGIT_HEAD:
        # One Dense(2) gives (z1 - z0, z0): the same function class as (z1, z0).
        return tf.keras.layers.Dense(2, name=LOGIT_LAYER)(top)
    logit = tf.keras.layers.Dense(1, name=LOGIT_LAYER)(top)  # [batch, 1], as Keras metrics expect
    if head == CLICK_HEAD:
        return logit
    hidden = tf.keras.layers.Dense(PROJECTION_HIDDEN, activation="relu", name="projection_hidden")(top)
    projection = tf.keras.layers.Dense(config.projection_dim, name="projection")(hidden)
    normalised = tf.keras.layers.UnitNormalization(name="projection_l2")(projection)
    return tf.keras.layers.Concatenate(name="logit_and_projection")([logit, normalised])
