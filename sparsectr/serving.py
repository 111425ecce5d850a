"""Batched predictions of a SavedModel on disk for parsed raw Criteo rows
(`sparsectr predict`), through `serving_default` as TF Serving would call it."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from models.serving_contract import PROBABILITY_KEY, SERVING_SIGNATURE, serialized_examples


def predict_probabilities(model_dir: str, rows: Sequence[dict[str, Any]], batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of `rows` from the SavedModel's `serving_default` signature."""
    serve = tf.saved_model.load(model_dir).signatures[SERVING_SIGNATURE]
    out = [serve(examples=tf.constant(serialized_examples(rows[i:i + batch_size])))[PROBABILITY_KEY].numpy()
           for i in range(0, len(rows), batch_size)]
    return np.concatenate(out)
