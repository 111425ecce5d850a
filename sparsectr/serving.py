"""Batched predictions of a SavedModel on disk for parsed raw Criteo rows
(`sparsectr predict`), through `serving_default` as TF Serving would call it."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from models.serving_contract import PROBABILITY_KEY, SERVING_SIGNATURE, serialized_examples


def predict_outputs(model_dir: str, rows: Sequence[dict[str, Any]], batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Every output of the SavedModel's `serving_default` signature for `rows` (models/serving_contract.py)."""
    serve = tf.saved_model.load(model_dir).signatures[SERVING_SIGNATURE]
    parts = [serve(examples=tf.constant(serialized_examples(rows[i:i + batch_size])))
             for i in range(0, len(rows), batch_size)]
    return {key: np.concatenate([part[key].numpy() for part in parts]) for key in parts[0]}


def predict_probabilities(model_dir: str, rows: Sequence[dict[str, Any]], batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of `rows` from the SavedModel's `serving_default` signature."""
    return predict_outputs(model_dir, rows, batch_size)[PROBABILITY_KEY]
