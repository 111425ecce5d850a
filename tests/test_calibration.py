"""Post-hoc calibration (models/calibration.py) against independent NumPy references."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.calibration import EPSILON, calibrated_logit, fit_calibration


def _miscalibrated(n: int, seed: int):
    """Logits of a model whose probabilities are too high: true logit = 0.6 * z - 1.2."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.6 * z - 1.2)))).astype(int)
    w = np.where(y > 0, 0.5, 1.0)
    return z, y, w


def _newton_platt(z, y, w, steps=50):
    """Weighted logistic regression of y on (z, 1) by Newton's method, in float64."""
    x = np.stack([z, np.ones_like(z)], axis=1)
    theta = np.zeros(2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ theta))
        gradient = x.T @ (w * (p - y))
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x
        theta -= np.linalg.solve(hessian, gradient)
    return theta


def test_platt_matches_newtons_method_and_fixes_the_level():
    z, y, w = _miscalibrated(20_000, 0)
    fit = fit_calibration("platt", z, y, w)
    scale, shift = _newton_platt(z, y, w)
    assert fit["scale"] == pytest.approx(scale, abs=1e-3) and fit["shift"] == pytest.approx(shift, abs=1e-3)
    assert fit["scale"] == pytest.approx(0.6, abs=0.05) and fit["shift"] < -0.5  # it recovers the truth
    logit = calibrated_logit(fit, tf.constant(z, tf.float32)).numpy()
    np.testing.assert_allclose(logit, scale * z + shift, atol=1e-3)
    p_before, p_after = 1 / (1 + np.exp(-z)), 1 / (1 + np.exp(-logit))
    weighted_rate = np.sum(w * y) / np.sum(w)
    # Calibrated on weighted labels: the weighted mean prediction equals the weighted click rate.
    assert np.sum(w * p_after) / np.sum(w) == pytest.approx(weighted_rate, rel=1e-3)
    assert abs(np.sum(w * p_before) / np.sum(w) - weighted_rate) > 0.05


def test_isotonic_is_monotone_interpolates_like_numpy_and_is_clipped():
    z, y, w = _miscalibrated(5_000, 1)
    fit = fit_calibration("isotonic", z, y, w)
    xs, ys = np.array(fit["logits"]), np.array(fit["probabilities"])
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) >= 0)
    probe = np.concatenate([np.linspace(xs[0] - 3, xs[-1] + 3, 997), xs])
    logit = calibrated_logit(fit, tf.constant(probe, tf.float32)).numpy()
    expected = np.clip(np.interp(probe, xs, ys), EPSILON, 1 - EPSILON)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit.astype(np.float64))), expected, rtol=2e-4, atol=1e-6)
    assert np.all(np.isfinite(logit))


def test_none_is_the_identity_and_one_class_is_an_error():
    z = tf.constant([-2.0, 0.5])
    assert fit_calibration("none", [0.0], [0], [1.0]) is None
    np.testing.assert_array_equal(calibrated_logit(None, z).numpy(), z.numpy())
    with pytest.raises(ValueError, match="only one class"):
        fit_calibration("platt", np.zeros(10), np.zeros(10), np.ones(10))
    with pytest.raises(ValueError, match="expected one of none, platt, isotonic"):
        fit_calibration("beta", np.zeros(2), np.array([0, 1]), np.ones(2))
