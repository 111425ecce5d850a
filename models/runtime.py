"""The process settings every entry point needs before TensorFlow loads.

Importing `models` (every package of this project does, and so does every Beam worker once it
unpickles any of our code) runs `configure()`:
- Keras 2 (tf_keras): TFT, TFMA and TFRS need it with TensorFlow 2.16;
- TensorFlow's C++ info logs off;
- a quiet interpreter teardown. TensorFlow's ``AtomicFunction.__del__`` raises (and Python prints
  "Exception ignored in ...") for every traced function still alive while the interpreter shuts
  down, after all work is done; the Evaluator's workers would print it a hundred times and more.
  Only those reports are dropped; any other unraisable exception still reaches the previous hook.
"""
from __future__ import annotations

import os
import sys


def silence_tensorflow_teardown_noise() -> None:
    """Installs the filter once per process."""
    if getattr(sys.unraisablehook, "_sparsectr_teardown_filter", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if "AtomicFunction.__del__" in getattr(unraisable.object, "__qualname__", ""):
            return
        previous(unraisable)

    hook._sparsectr_teardown_filter = True
    sys.unraisablehook = hook


def configure() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    silence_tensorflow_teardown_noise()
