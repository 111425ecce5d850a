"""The DCN-V2 backbone: structures, cross layers of TFRS, low rank, output,
and that its cross network computes x_{l+1} = x0 * (W x_l + b) + x_l."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_recommenders as tfrs

from models import features
from models.dcn import build_dcn_v2
from models.hparams import ModelConfig
from models.losses import LOSSES
from models.sizing import SPEC_SETTINGS

SIZES = {name: 7 for name in features.FEATURE_KEYS}
X0_DIM = len(features.FEATURE_KEYS) * 4


def _model(**settings) -> tf.keras.Model:
    return build_dcn_v2(ModelConfig(embedding_dim=4, dnn_units=(16, 8), **{**SPEC_SETTINGS, **settings}), SIZES)


def _batch(n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.integers(0, 7, size=n) for name in features.FEATURE_KEYS}


def _crosses(model: tf.keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, tfrs.layers.dcn.Cross)]


@pytest.mark.parametrize("structure", ["parallel", "stacked"])
def test_structures_output_one_logit_per_example(structure):
    model = _model(structure=structure, cross_layers=2)
    assert model(_batch()).shape == (5, 1)
    assert len(_crosses(model)) == 2
    top_inputs = model.get_layer("logit").input.shape[-1]
    assert top_inputs == (X0_DIM + 8 if structure == "parallel" else 8)


def test_full_and_low_rank_cross_layer_parameters():
    full = _crosses(_model(cross_layers=3))[0]
    low = _crosses(_model(cross_layers=3, cross_projection_dim=5))[0]
    assert full.count_params() == X0_DIM * X0_DIM + X0_DIM
    assert low.count_params() == X0_DIM * 5 + 5 * X0_DIM + X0_DIM


def test_cross_network_matches_the_dcn_v2_formula_in_numpy():
    model = _model(cross_layers=2, dropout=0.0)
    batch = _batch(3)
    x0 = tf.keras.Model(model.inputs, model.get_layer("embeddings").output)(batch).numpy()
    got = tf.keras.Model(model.inputs, model.get_layer("cross_1").output)(batch).numpy()
    x = x0
    for layer in _crosses(model):
        kernel, bias = (w.numpy() for w in layer.weights)  # Dense(x0_dim): x @ kernel + bias
        x = x0 * (x @ kernel + bias) + x
    np.testing.assert_allclose(got, x, rtol=1e-5, atol=1e-6)


def test_embedding_l2_adds_a_regularisation_loss_only_when_set():
    assert len(_model(embedding_l2=1e-3).losses) == len(features.FEATURE_KEYS)
    assert not _model(embedding_l2=0.0).losses


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_the_model_through_keras_fit(loss):
    """Labels follow one field's value: every loss must learn to rank them."""
    from sklearn.metrics import roc_auc_score

    from models.trainer import compile_model

    tf.keras.utils.set_random_seed(0)
    config = ModelConfig(embedding_dim=4, dnn_units=(16, 8), loss=loss, alpha=0.5, learning_rate=1e-2, **SPEC_SETTINGS)
    model = build_dcn_v2(config, SIZES)
    compile_model(model, config)
    x = _batch(1024)
    labels = (x["C1"] == 3).astype(np.int64).reshape(-1, 1)
    weights = np.where(labels.ravel() == 1, 0.1, 1.0).astype(np.float32)
    history = model.fit(x, labels, sample_weight=weights, batch_size=128, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    probability = tf.sigmoid(model(x)[:, 0]).numpy()
    assert np.all((probability > 0) & (probability < 1))
    assert roc_auc_score(labels.ravel(), probability) > 0.95


def test_jrc_and_contrastive_heads_add_columns_after_the_click_logit():
    batch = _batch(6)
    jrc = _model(loss="jrc")(batch).numpy()
    assert jrc.shape == (6, 2)
    contrastive = _model(loss="combined_contrastive", projection_dim=8)(batch).numpy()
    assert contrastive.shape == (6, 9)
    np.testing.assert_allclose(np.linalg.norm(contrastive[:, 1:], axis=1), 1.0, rtol=1e-5)
