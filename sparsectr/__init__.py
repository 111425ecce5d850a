"""sparsectr: a TFX pipeline for CTR prediction under sparse positive feedback.

Importing this package (every entry point, component and model module does)
selects Keras 2 (tf_keras), which TFT, TFMA and TFRS need with TensorFlow 2.16.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
