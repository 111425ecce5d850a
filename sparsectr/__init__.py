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


def __getattr__(name: str):
    """Kubeflow V2 tasks find a custom artifact class by its schema title, "<namespace>.<Class>"
    with one dot (tfx/orchestration/kubeflow/v2/compiler_utils.py), so CriteoRejects, titled
    sparsectr.CriteoRejects, must be importable from here; loaded on first use."""
    if name == "CriteoRejects":
        from components.criteo_example_gen.spec import CriteoRejects

        return CriteoRejects
    raise AttributeError(f"module 'sparsectr' has no attribute {name!r}")
