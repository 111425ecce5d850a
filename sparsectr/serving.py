"""Client side of the serving contract: raw Criteo rows as the serialized
tf.Examples `serving_default` takes (labels removed), and batched predictions
of a SavedModel on disk."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from components.criteo_example_gen.executor import row_to_example
from models import features
from models.trainer import PROBABILITY_KEY


def serialized_examples(rows: Sequence[dict[str, Any]]) -> list[bytes]:
    """Each parsed row (parsing.parse_line) as a serialized tf.Example without its label."""
    return [row_to_example({k: v for k, v in r.items() if k != features.LABEL_KEY}).SerializeToString()
            for r in rows]


def predict_probabilities(model_dir: str, rows: Sequence[dict[str, Any]], batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of `rows` from the SavedModel's `serving_default` signature."""
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    out = [serve(examples=tf.constant(serialized_examples(rows[i:i + batch_size])))[PROBABILITY_KEY].numpy()
           for i in range(0, len(rows), batch_size)]
    return np.concatenate(out)
