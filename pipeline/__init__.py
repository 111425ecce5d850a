import models  # noqa: F401  (selects Keras 2 before TensorFlow loads: models/runtime.py)
