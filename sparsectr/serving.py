"""Batched predictions of a SavedModel on disk for parsed raw Criteo rows
(`sparsectr predict`), through `serving_default` as TF Serving would call it."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from models.serving_contract import PROBABILITY_KEY, predict_serialized, serialized_examples


def predict_outputs(model_dir: str, rows: Sequence[dict[str, Any]], batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Every output of the SavedModel's `serving_default` signature for `rows` (models/serving_contract.py)."""
    return predict_serialized(model_dir, serialized_examples(rows), batch_size)


def predict_probabilities(model_dir: str, rows: Sequence[dict[str, Any]], batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of `rows` from the SavedModel's `serving_default` signature."""
    return predict_outputs(model_dir, rows, batch_size)[PROBABILITY_KEY]
