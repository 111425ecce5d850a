"""TFMA's configuration (metrics, slices, blessing thresholds), the exact AUC metric, and reading
and formatting the Evaluator's results."""
import models  # noqa: F401  (selects Keras 2 before TensorFlow loads: models/runtime.py)
