"""models/runtime.py: importing models (as every package of ours does, and every Beam worker once
it unpickles our code) drops TensorFlow's AtomicFunction.__del__ teardown reports and nothing else."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import PROJECT_ROOT


def test_importing_models_drops_only_atomic_function_teardown_reports():
    script = textwrap.dedent("""
        import gc
        import models, models.runtime

        class AtomicFunction:
            def __del__(self):
                raise TypeError("'NoneType' object is not subscriptable")

        class OtherResource:
            def __del__(self):
                raise RuntimeError("a real error in __del__")

        models.runtime.silence_tensorflow_teardown_noise()  # a second call adds no second filter
        AtomicFunction(); OtherResource(); gc.collect()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "AtomicFunction.__del__" not in result.stderr
    assert "OtherResource.__del__" in result.stderr and "a real error in __del__" in result.stderr
    assert result.stderr.count("Exception ignored") == 1
