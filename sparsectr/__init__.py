"""sparsectr: a TFX pipeline for CTR prediction under sparse positive feedback. This package is the
top layer: the command line and what it runs (run, check-data, report, experiment, serving)."""
import models  # noqa: F401  (selects Keras 2 before TensorFlow loads: models/runtime.py)


def __getattr__(name: str):
    """Kubeflow V2 tasks find a custom artifact class by its schema title, "<namespace>.<Class>"
    with one dot (tfx/orchestration/kubeflow/v2/compiler_utils.py), so CriteoRejects, titled
    sparsectr.CriteoRejects, must be importable from here; loaded on first use."""
    if name == "CriteoRejects":
        from components.criteo_example_gen.spec import CriteoRejects

        return CriteoRejects
    raise AttributeError(f"module 'sparsectr' has no attribute {name!r}")
