"""DCN-V2 (Wang et al. 2021) on TensorFlow Recommenders' cross layers.

One embedding per field (39 fields, `embedding_dim` each), concatenated into
x0. Parallel structure (SPEC 5 default): a cross network of `cross_layers`
`tfrs.layers.dcn.Cross` layers (x_{l+1} = x0 * (W x_l + b) + x_l) beside a
ReLU DNN with dropout, concatenated into one linear output. Stacked: the DNN
on top of the cross network. `cross_projection_dim > 0` makes W low-rank.
The model outputs the logit, shape [batch, 1]; probabilities are sigmoid(logit).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from models import features
from models.hparams import ModelConfig

LOGIT_KEY = "logit"


def build_dcn_v2(config: ModelConfig, vocabulary_sizes: dict[str, int]) -> tf.keras.Model:
    """`vocabulary_sizes[name]` is the number of ids of field `name` (ids 0..size-1)."""
    inputs = {name: tf.keras.Input(shape=(), name=name, dtype=tf.int64) for name in features.FEATURE_KEYS}
    regularizer = tf.keras.regularizers.l2(config.embedding_l2) if config.embedding_l2 else None
    embedded = [
        tf.keras.layers.Embedding(vocabulary_sizes[name], config.embedding_dim, embeddings_regularizer=regularizer,
                                  name=f"embedding_{name}")(inputs[name])
        for name in features.FEATURE_KEYS
    ]
    x0 = tf.keras.layers.Concatenate(name="embeddings")(embedded)

    def cross_network(x):
        crossed = x
        for i in range(config.cross_layers):
            crossed = tfrs.layers.dcn.Cross(projection_dim=config.cross_projection_dim or None,
                                            name=f"cross_{i}")(x, crossed)
        return crossed

    def dnn(x):
        for i, units in enumerate(config.dnn_units):
            x = tf.keras.layers.Dense(units, activation="relu", name=f"dnn_{i}")(x)
            if config.dropout:
                x = tf.keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
        return x

    if config.structure == "parallel":
        top = tf.keras.layers.Concatenate(name="cross_and_deep")([cross_network(x0), dnn(x0)])
    else:
        top = dnn(cross_network(x0))
    logit = tf.keras.layers.Dense(1, name=LOGIT_KEY)(top)  # [batch, 1], as Keras metrics expect
    return tf.keras.Model(inputs=inputs, outputs=logit, name="dcn_v2")
