"""The pipeline's configuration: one dataclass, one set of defaults."""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from evaluation.thresholds import BlessingThresholds, ModelChecks
from models.criteo_rows import DEFAULT_MAX_REJECT_FRACTION, FORMATS
from models.hparams import ModelConfig, check_choices, setting

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = PROJECT_ROOT / "schemas"
SPLIT_NAMES = ("train", "eval", "test")
# DirectRunner in multi-processing mode, one worker per core (0 = all cores).
# --setup_file ships this project to remote Beam workers (Dataflow, Flink,
# Spark) and stops TFX from building a TFX sdist before every Beam job.
LOCAL_BEAM_ARGS = (
    "--direct_running_mode=multi_processing",
    "--direct_num_workers=0",
    f"--setup_file={PROJECT_ROOT / 'setup.py'}",
)
_GLOB_CHARS = "*?[{"
VALIDATION_HOLDOUT = 0.1


@dataclasses.dataclass
class PipelineConfig:
    data: str
    output_dir: str
    pipeline_name: str = "sparsectr"
    input_format: str = setting("auto", "raw log format", choices=FORMATS, flag="--format")
    split_ratios: tuple[int, int, int] = (8, 1, 1)
    max_reject_fraction: float = setting(DEFAULT_MAX_REJECT_FRACTION,
                                         "fail when more than this fraction of rows is rejected")
    schema_dir: str = str(SCHEMA_DIR)
    beam_pipeline_args: tuple[str, ...] = LOCAL_BEAM_ARGS
    enable_cache: bool = True
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    model_name: str = "sparsectr"
    push_dir: str = setting("", "serving models go to PUSH_DIR/<model name>/<version>/ (default OUTPUT/serving_model)")
    # Blessing (evaluation/config.py: BlessingThresholds).
    min_auc: float = setting(BlessingThresholds.min_auc, "bless only models with at least this eval AUC")
    auc_tolerance: float = setting(BlessingThresholds.auc_tolerance,
                                   "bless only if AUC drops by at most this against the latest blessed model")
    logloss_tolerance: float = setting(BlessingThresholds.logloss_tolerance, "bless only if weighted logloss "
                                       "rises by at most this against the latest blessed model")
    # Fail-closed checks (evaluation/model_checks.py: ModelChecks).
    baseline_auc_z: float = setting(ModelChecks.baseline_auc_z, "refuse a model whose AUC is below the run's "
                                    "logistic-regression baseline's by more than this many standard errors of the "
                                    "difference (inf: off)")
    baseline_logloss_margin: float = setting(ModelChecks.baseline_logloss_margin, "refuse a model whose weighted "
                                             "logloss is above the baseline's by more than this fraction of it (inf: off)")
    max_loss_growth: float = setting(ModelChecks.max_loss_growth, "refuse a model whose last epoch's training loss "
                                     "is more than this many times its first's (inf: off)")
    min_platt_scale: float = setting(ModelChecks.min_platt_scale, "refuse a model whose Platt calibration scale is "
                                     "below this: it ignores or inverts the network's logit (-inf: off)")
    min_slice_size: int = setting(100, "withhold metrics of smaller slices (sparsity buckets, slice features) "
                                       "in the summary, the report and evaluation.json")

    def __post_init__(self):
        check_choices(self)
        if not 0.0 <= self.max_reject_fraction <= 1.0:
            raise ValueError(f"max_reject_fraction: expected a fraction between 0 and 1, got {self.max_reject_fraction}")
        if not 0.0 <= self.min_auc <= 1.0:
            raise ValueError(f"min_auc: expected an AUC between 0 and 1, got {self.min_auc}")
        for name in ("auc_tolerance", "logloss_tolerance", "baseline_auc_z", "baseline_logloss_margin"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected a number >= 0 (inf: off), got {getattr(self, name)}")
        if not self.max_loss_growth >= 1:
            raise ValueError(f"max_loss_growth: expected a ratio >= 1 (inf: off), got {self.max_loss_growth}")
        if math.isnan(self.min_platt_scale):
            raise ValueError("min_platt_scale: expected a number (-inf: off), got nan")
        if self.min_slice_size < 1:
            raise ValueError(f"min_slice_size: expected a positive number of examples, got {self.min_slice_size}")
        if len(self.split_ratios) != len(SPLIT_NAMES) or min(self.split_ratios) < 1:
            raise ValueError(f"split_ratios: expected 3 positive integers (train, eval, test), got {self.split_ratios}")

    @property
    def blessing_thresholds(self) -> BlessingThresholds:
        return BlessingThresholds(self.min_auc, self.auc_tolerance, self.logloss_tolerance)

    @property
    def model_checks(self) -> ModelChecks:
        return ModelChecks(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ModelChecks)})

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata.db")

    @property
    def serving_dir(self) -> str:
        """Pushed models land in <serving_dir>/<version>/ (TF Serving's layout)."""
        return os.path.join(self.push_dir or os.path.join(self.output_dir, "serving_model"), self.model_name)

    def presplit_names(self) -> list[str]:
        """Split names when `data` is a directory holding train/ and eval/ (and
        maybe test/) subdirectories; empty when ExampleGen should split by hash."""
        if "://" in self.data or not os.path.isdir(self.data):
            return []
        names = [n for n in SPLIT_NAMES if os.path.isdir(os.path.join(self.data, n))]
        return names if {"train", "eval"} <= set(names) else []

    def evaluation_split(self) -> str:
        """TFMA evaluates on the test split when there is one, else on eval."""
        presplit = self.presplit_names()
        return "test" if (not presplit or "test" in presplit) else "eval"

    def validation_holdout(self) -> float:
        """The share of train the Trainer holds out to validate on (early stopping, calibration): none
        when TFMA scores a test split (the Trainer validates on eval), VALIDATION_HOLDOUT when TFMA
        scores eval, so that model selection never sees the rows evaluation scores."""
        return 0.0 if self.evaluation_split() == "test" else VALIDATION_HOLDOUT


def input_location(data: str) -> tuple[str, str]:
    """(input_base, pattern) for ExampleGen from a file, a directory or a glob.

    A pattern may hold TFX's `{SPAN}` (e.g. `logs/day_{SPAN}.gz`).
    """
    data = os.path.abspath(os.path.expanduser(data)) if "://" not in data else data
    if not any(c in data for c in _GLOB_CHARS):
        if "://" not in data and os.path.isdir(data):
            return data, "*"
        if not os.path.exists(data) and "://" not in data:
            raise FileNotFoundError(f"--data {data}: no such file or directory")
        return os.path.dirname(data), os.path.basename(data)
    first_glob = min(data.index(c) for c in _GLOB_CHARS if c in data)
    base = data[: data.rindex("/", 0, first_glob)]
    return base, data[len(base) + 1 :]

