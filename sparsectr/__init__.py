"""sparsectr: a TFX pipeline for CTR prediction under sparse positive feedback.

Importing this package (every entry point, component and model module does,
and so does every Beam worker process once it unpickles any of our code)
selects Keras 2 (tf_keras), which TFT, TFMA and TFRS need with TensorFlow 2.16,
and drops TensorFlow's teardown noise (sparsectr/teardown.py), which the
Evaluator's workers would otherwise print a hundred times and more.
"""
import os

from sparsectr.teardown import silence_tensorflow_teardown_noise

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
silence_tensorflow_teardown_noise()
