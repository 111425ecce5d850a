"""Gradient diagnostics: the recorded per-batch |dL/dz| against the analytic
BCE gradient (w_j p_j / N), layer percentiles against NumPy, the files."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tensorflow as tf

from models import features
from models.dcn import build_dcn_v2
from models.sizing import SPEC_SETTINGS
from models.diagnostics import (BATCHES_FILE, HISTOGRAMS_FILE, LAYER_GROUPS, LAYERS_FILE, layer_group,
                                percentiles_and_mean, with_diagnostics)
from models.hparams import ModelConfig
from models.trainer import compile_model

SIZES = {name: 50 for name in features.FEATURE_KEYS}


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = {name: rng.integers(0, 7, size=n) for name in features.FEATURE_KEYS}
    y = (rng.random(n) < 0.1).astype(np.float32)
    w = np.where(y == 1, 0.1, 1.0).astype(np.float32)
    return x, y.reshape(-1, 1), w


def _diagnosed(loss: str, directory, every: int = 2, **settings) -> tuple[tf.keras.Model, list]:
    """A compiled small DCN-V2 with diagnostics every `every` steps, and its callbacks."""
    config = ModelConfig(**{**SPEC_SETTINGS, "embedding_dim": 4, "dnn_units": (16,), "dropout": 0.0, "loss": loss,
                            "alpha": 0.5, **settings})
    model, callbacks = with_diagnostics(build_dcn_v2(config, SIZES), every, str(directory))
    compile_model(model, config)
    return model, callbacks


def test_first_batch_gradient_on_negatives_and_positives_is_the_analytic_bce_one(tmp_path):
    model, callbacks = _diagnosed("bce", tmp_path)
    x, y, w = _data(64)
    z = model(x, training=False).numpy()[:, 0]  # no dropout: the first step sees these logits
    p = 1 / (1 + np.exp(-z))
    expected = np.abs(w * (p - y.ravel()) / len(z))
    model.fit(x, y, sample_weight=w, batch_size=64, epochs=3, verbose=0, callbacks=callbacks)
    with open(tmp_path / BATCHES_FILE) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and int(rows[0]["negatives"]) == int((y == 0).sum())
    negatives = y.ravel() == 0
    np.testing.assert_allclose(float(rows[0]["mean_abs_grad_negatives"]), expected[negatives].mean(), rtol=1e-4)
    np.testing.assert_allclose(float(rows[0]["mean_abs_grad_positives"]), expected[~negatives].mean(), rtol=1e-4)

    with open(tmp_path / LAYERS_FILE) as f:
        layers = list(csv.DictReader(f))
    assert [r["step"] for r in layers] == ["0"] * 4 + ["2"] * 4  # every 2 steps, one row per group
    assert {r["group"] for r in layers} == set(LAYER_GROUPS)
    for r in layers:
        assert float(r["p10"]) <= float(r["p50"]) <= float(r["p90"]) and float(r["mean"]) > 0
    histograms = json.loads((tmp_path / HISTOGRAMS_FILE).read_text())
    assert [h["step"] for h in histograms["histograms"]] == [0, 2]
    assert sum(histograms["histograms"][0]["counts"]) == int(negatives.sum())

    # The plot command reads these files and writes the three PNGs.
    from sparsectr.cli import main

    assert main(["plot-diagnostics", f"run={tmp_path}", "--out", str(tmp_path / "png")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "png").glob("*.png"))
    assert pngs == ["layer_gradients.png", "logit_gradients.png", "negative_gradient_histogram.png"]
    assert all((tmp_path / "png" / p).read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_percentiles_match_numpy_lower_method():
    values = np.random.default_rng(3).exponential(size=1001).astype(np.float32)
    got = percentiles_and_mean(tf.constant(values)).numpy()
    expected = [np.percentile(values, q, method="lower") for q in (10, 50, 90)] + [values.mean()]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_variables_fall_into_the_four_layer_groups(tmp_path):
    model, _ = _diagnosed("bce", tmp_path)
    groups = {layer_group(v.name) for v in model.trainable_variables}
    assert groups == set(LAYER_GROUPS)


@pytest.mark.parametrize("loss", ["jrc", "combined_contrastive"])
def test_diagnostics_work_with_multi_column_heads(loss, tmp_path):
    model, callbacks = _diagnosed(loss, tmp_path, every=1)
    x, y, w = _data(64, seed=1)
    model.fit(x, y, sample_weight=w, batch_size=32, epochs=1, verbose=0, callbacks=callbacks)
    with open(tmp_path / BATCHES_FILE) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(r["mean_abs_grad_negatives"]) > 0 for r in rows)


def test_without_diagnostics_the_model_keeps_keras_own_train_step(tmp_path):
    """Off (the default) costs nothing: run_fn wraps the model only when diagnostics are on."""
    plain = build_dcn_v2(ModelConfig(embedding_dim=4, dnn_units=(16,), **SPEC_SETTINGS), SIZES)
    assert type(plain).train_step is tf.keras.Model.train_step
    diagnosed, _ = with_diagnostics(plain, 5, str(tmp_path))
    assert type(diagnosed).train_step is not tf.keras.Model.train_step
