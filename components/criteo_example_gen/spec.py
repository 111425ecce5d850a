"""Component spec and artifact types of CriteoExampleGen."""
from __future__ import annotations

from tfx import types
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from models.criteo_rows import DEFAULT_MAX_REJECT_FRACTION  # noqa: F401  (the component's default)

INPUT_FORMAT_KEY = "input_format"
MAX_REJECT_FRACTION_KEY = "max_reject_fraction"
REJECTS_KEY = "rejects"


class CriteoRejects(types.Artifact):
    """Lines that could not be read, as JSON lines (file, line, reason, detail,
    raw), plus summary.json per input split with counts by reason."""

    # <namespace>.<Title>, as Kubeflow V2 requires; its tasks import the class by this name
    # (sparsectr/__init__.py provides it).
    TYPE_NAME = "sparsectr.CriteoRejects"


class CriteoExampleGenSpec(types.ComponentSpec):
    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        INPUT_FORMAT_KEY: ExecutionParameter(type=str),
        MAX_REJECT_FRACTION_KEY: ExecutionParameter(type=float),
    }
    INPUTS = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        REJECTS_KEY: ChannelParameter(type=CriteoRejects),
    }
