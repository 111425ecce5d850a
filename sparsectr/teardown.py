"""Quiet interpreter teardown.

TensorFlow's ``AtomicFunction.__del__`` raises (and Python prints "Exception
ignored in ...") for every traced function still alive while the interpreter
shuts down, after all work is done. Only those reports are dropped; any other
unraisable exception still reaches the previous hook.
"""
from __future__ import annotations

import sys


def silence_tensorflow_teardown_noise() -> None:
    """Installs the filter once per process (sparsectr/__init__.py calls it on import)."""
    if getattr(sys.unraisablehook, "_sparsectr_teardown_filter", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if "AtomicFunction.__del__" in getattr(unraisable.object, "__qualname__", ""):
            return
        previous(unraisable)

    hook._sparsectr_teardown_filter = True
    sys.unraisablehook = hook
