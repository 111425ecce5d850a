"""Post-hoc calibration of the click logit, fitted on validation rows.

Early stopping keeps the epoch of best validation AUC, which says nothing
about calibration: the mean prediction can end 10-30% off the click rate
(docs/PERFORMANCE.md). A monotone map fitted on the Trainer's validation rows
(never the rows TFMA scores) fixes the level without changing the ranking, so
AUC is unchanged:
- platt: logit' = scale * logit + shift, fitted by weighted logistic regression;
- isotonic: probability' = a non-decreasing piecewise-linear function of the
  logit (scikit-learn's IsotonicRegression), clipped to [EPSILON, 1 - EPSILON].
Both are fitted with the example weights (beta for positives), so the
calibrated model predicts what it was trained to predict. The fitted map is
a few numbers stored in model_config.json and built into the serving
signatures (models/trainer.py) as TensorFlow ops.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import tensorflow as tf

from models.hparams import CALIBRATIONS

EPSILON = 1e-6


def fit_calibration(kind: str, logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> Optional[dict[str, Any]]:
    """The calibration map of `kind` fitted on validation logits, as JSON-ready numbers (None for none)."""
    if kind == "none":
        return None
    if len(np.unique(labels)) < 2:
        raise ValueError(f"calibration {kind!r}: the validation rows hold only one class; nothing to fit")
    logits = np.asarray(logits, np.float64).reshape(-1)
    if kind == "platt":
        from sklearn.linear_model import LogisticRegression

        fit = LogisticRegression(C=1e6, max_iter=1000).fit(logits[:, None], labels, sample_weight=weights)
        return {"kind": kind, "scale": float(fit.coef_[0, 0]), "shift": float(fit.intercept_[0]),
                "rows": int(len(labels))}
    if kind == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        fit = IsotonicRegression(y_min=EPSILON, y_max=1 - EPSILON, out_of_bounds="clip").fit(
            logits, labels, sample_weight=weights)
        return {"kind": kind, "logits": [float(x) for x in fit.X_thresholds_],
                "probabilities": [float(y) for y in fit.y_thresholds_], "rows": int(len(labels))}
    raise ValueError(f"calibration: expected one of {', '.join(CALIBRATIONS)}, got {kind!r}")


def _interpolate(x: tf.Tensor, xs: tf.Tensor, ys: tf.Tensor) -> tf.Tensor:
    """Piecewise-linear interpolation of (xs, ys) at x (xs increasing), constant beyond the ends."""
    if xs.shape[0] == 1:
        return tf.fill(tf.shape(x), ys[0])
    x = tf.clip_by_value(x, xs[0], xs[-1])
    i = tf.clip_by_value(tf.searchsorted(xs, x, side="right") - 1, 0, xs.shape[0] - 2)
    x0, x1, y0, y1 = tf.gather(xs, i), tf.gather(xs, i + 1), tf.gather(ys, i), tf.gather(ys, i + 1)
    t = tf.math.divide_no_nan(x - x0, x1 - x0)
    return y0 + t * (y1 - y0)


def calibrated_logit(calibration: Optional[dict[str, Any]], logit: tf.Tensor) -> tf.Tensor:
    """The calibrated click logit ([batch] float32) for a map from fit_calibration."""
    if calibration is None:
        return logit
    if calibration["kind"] == "platt":
        return calibration["scale"] * logit + calibration["shift"]
    xs = tf.constant(calibration["logits"], tf.float32)
    ys = tf.constant(calibration["probabilities"], tf.float32)
    p = tf.clip_by_value(_interpolate(logit, xs, ys), EPSILON, 1 - EPSILON)
    return tf.math.log(p) - tf.math.log1p(-p)
