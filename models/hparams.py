"""Model, training and feature-transform settings: one dataclass, one set of
defaults (docs/SCIENCE.md §5 for the DCN-V2; §2 for beta).

It travels to Transform and Trainer as their `custom_config` (a JSON dict), so
the trained model records exactly what produced it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional, Sequence

from models.features import FEATURE_KEYS
from models.sizing import SIZED_FIELDS, SPEC_MIN_COUNT, DataSize, sized_settings

STRUCTURES = ("parallel", "stacked")
# Post-hoc calibrations of the click logit (models/calibration.py).
CALIBRATIONS = ("none", "platt", "isotonic")
# The Trainer's tf.distribute strategies (models/distribute.py).
DISTRIBUTIONS = ("auto", "one_worker", "multi_worker")
# Validation metrics early stopping can watch, and whether higher is better.
MONITORS = {"auc": "max", "weighted_logloss": "min"}
# Key of the ModelConfig dict in Transform's and Trainer's custom_config.
MODEL_CONFIG_KEY = "model"
# Each loss's BCE weight alpha when none is given: the paper's tuned values
# (docs/SCIENCE.md §3, its official configs). Combined-Pair's was tuned per beta: the value
# of the nearest tuned beta applies, the sparser one on a tie (0.3 -> 0.2's).
# BCE and Focal have no auxiliary term (1.0: all BCE). A ranking loss never
# defaults to 1.0, which would be plain BCE.
DEFAULT_ALPHA: dict[str, float | dict[float, float]] = {
    "bce": 1.0,
    "focal": 1.0,
    "combined_pair": {0.1: 0.7, 0.2: 0.6, 0.4: 0.8, 0.6: 0.7, 0.8: 0.9, 1.0: 0.9},
    "combined_list": 0.9,
    "rcr": 0.9,
    "jrc": 0.4,
    "combined_contrastive": 0.5,
}
LOSS_NAMES = tuple(DEFAULT_ALPHA)
# Losses with an auxiliary (ranking or contrastive) term weighted by 1 - alpha.
AUXILIARY_LOSSES = tuple(name for name, a in DEFAULT_ALPHA.items() if a != 1.0)


def default_alpha(loss: str, beta: float) -> float:
    """The tuned BCE weight of `loss` at `beta` (DEFAULT_ALPHA; ModelConfig validates the name)."""
    tuned = DEFAULT_ALPHA[loss]
    if isinstance(tuned, dict):
        nearest = min(tuned, key=lambda b: (abs(b - beta), b))
        return tuned[nearest]
    return tuned


# The settings preprocessing_fn reads. Transform receives only these, so that
# changing a training setting (loss, epochs, ...) keeps Transform's cached run.
TRANSFORM_FIELDS = ("categorical_min_count", "integer_buckets", "beta", "sparsity_key", "sparsity_smoothing",
                    "sparsity_boundaries", "slice_features")


def setting(default: Any, help: str, choices: Optional[Sequence[str]] = None, flag: Optional[str] = None) -> Any:
    """A settings field with what the command line shows (sparsectr/flags.py builds one flag per field
    from it): its help, its choices (the constant the field is validated against) and, when the flag
    is not the field's name, the flag."""
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if flag is not None:
        metadata["flag"] = flag
    return dataclasses.field(default=default, metadata=metadata)


def check_choices(settings: Any) -> None:
    """Raises naming the field when a field declared with `choices` holds another value."""
    for field in dataclasses.fields(settings):
        choices = field.metadata.get("choices")
        value = getattr(settings, field.name)
        if choices is not None and value not in choices:
            raise ValueError(f"{field.name}: expected one of {', '.join(choices)}, got {value!r}")


SIZED = "sized to the training data, models/sizing.py"


@dataclasses.dataclass
class ModelConfig:
    # Features (Transform). Fields left None are sized to the training data by the Trainer.
    categorical_min_count: Optional[int] = setting(
        None, f"vocabulary minimum count; rarer values share an OOV id (default: {SIZED})")
    integer_buckets: int = setting(32, "quantile buckets of sign(x) * log(1 + |x|) per integer feature")
    beta: float = setting(1.0, "example weight of positives, simulating sparsity (docs/SCIENCE.md §2); negatives weigh 1")
    # Sparsity buckets (models/sparsity.py, docs/EVALUATION.md): the training
    # split's beta-weighted positive rate of each value of `sparsity_key` (one
    # categorical, or a cross of two), smoothed towards the overall rate with
    # `sparsity_smoothing` pseudo-examples, cut at `sparsity_boundaries`.
    sparsity_key: tuple[str, ...] = setting(
        ("C2",), "feature whose training positive rate defines the sparsity buckets, or two comma-separated "
                 "for a cross")
    sparsity_smoothing: float = setting(20.0, "pseudo-examples at the overall rate added to each key value's counts")
    sparsity_boundaries: tuple[float, ...] = setting(
        (0.005, 0.01, 0.02, 0.05, 0.1, 0.25), "sparsity bucket edges, comma-separated rates")
    slice_features: tuple[str, ...] = setting(
        (), "comma-separated raw features whose values slice the evaluation besides overall and the sparsity "
            "buckets (e.g. C17,C20; models/slices.py)")
    # DCN-V2 (docs/SCIENCE.md §5).
    embedding_dim: int = setting(10, "embedding size per field")
    structure: str = setting("parallel", "cross network beside the DNN, or the DNN on top of it",
                             choices=STRUCTURES)
    cross_layers: int = setting(3, "number of cross layers")
    cross_projection_dim: int = setting(0, "0 = full-rank cross layers, > 0 = low-rank")
    dnn_units: tuple[int, ...] = setting((500, 500, 500), "DNN layer sizes, comma-separated")
    dropout: Optional[float] = setting(None, f"DNN dropout (default: {SIZED})")
    embedding_l2: Optional[float] = setting(None, f"L2 on embeddings (default: {SIZED})")
    # Optimisation.
    loss: str = setting("bce", "training loss (models/losses.py)", choices=LOSS_NAMES)
    # The field keeps None so that a copy with another loss gets that loss's default.
    alpha: Optional[float] = setting(
        None, "weight of BCE in alpha*BCE + (1-alpha)*auxiliary term, JRC: of its calibration term "
              "(default: the loss's tuned value, models/hparams.py DEFAULT_ALPHA)")
    gamma: float = setting(2.0, "focal loss exponent")
    tau: float = setting(0.1, "contrastive loss temperature")
    projection_dim: int = setting(
        16, "contrastive projection head size: Dense(64, relu) -> Dense(projection_dim) -> L2 norm")
    # Bounds the contrastive term's similarity matrix to [anchors, batch].
    contrastive_anchors: int = setting(1024, "contrastive anchors per batch (0 = every example); bounds its cost")
    learning_rate: float = setting(1e-3, "Adam learning rate (> 0)")
    # weighted_logloss also watches calibration; docs/SCIENCE.md §5 selects on AUC.
    monitor: str = setting("auc", "validation metric of early stopping, the learning-rate schedule and the "
                                  "kept epoch", choices=tuple(MONITORS))
    # Platt by default: it fixes the level of the predictions at no cost in AUC (docs/PERFORMANCE.md);
    # `sparsectr experiment` cells use none, to compare the losses' own logloss.
    calibration: str = setting("platt", "post-hoc calibration of the click logit on the validation rows, built "
                                        "into the serving signatures (models/calibration.py)", choices=CALIBRATIONS)
    batch_size: Optional[int] = setting(None, f"training batch size (default: {SIZED}; the paper's 4096)")
    epochs: int = setting(10, "maximum epochs (early stopping on the validation --monitor)")
    early_stopping_patience: int = setting(2, "epochs without a better validation --monitor before stopping")
    diagnostics: bool = setting(False, "record gradient diagnostics (docs/SCIENCE.md §4) in the Trainer's run directory "
                                       "(models/diagnostics.py)")
    diagnostics_every: int = setting(20, "with --diagnostics: layer percentiles and histograms every this many steps")
    seed: int = setting(0, "training seed")
    distribution: str = setting("auto", "the Trainer's tf.distribute strategy: auto = several workers when "
                                        "TF_CONFIG names a cluster (models/distribute.py)", choices=DISTRIBUTIONS)

    def __post_init__(self):
        for name, kind in SEQUENCE_FIELDS.items():
            try:
                setattr(self, name, tuple(kind(v) for v in getattr(self, name)))
            except (TypeError, ValueError):
                raise ValueError(f"{name}: expected a sequence of {kind.__name__}, got {getattr(self, name)!r}") from None
        unknown = sorted(set(self.slice_features) - set(FEATURE_KEYS))
        if unknown:
            raise ValueError(f"slice_features: {unknown} are not Criteo features (I1..I13, C1..C26)")
        if not 1 <= len(self.sparsity_key) <= 2 or not set(self.sparsity_key) <= set(FEATURE_KEYS):
            raise ValueError(f"sparsity_key: expected one feature or a cross of two among I1..I13, C1..C26, "
                             f"got {list(self.sparsity_key)}")
        bounds = self.sparsity_boundaries
        if not bounds or bounds[0] <= 0 or bounds[-1] >= 1 or any(a >= b for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f"sparsity_boundaries: expected increasing rates strictly between 0 and 1, got {list(bounds)}")
        if self.sparsity_smoothing <= 0:
            raise ValueError(f"sparsity_smoothing: expected a positive number of pseudo-examples, "
                             f"got {self.sparsity_smoothing}")
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"beta: expected 0 < beta <= 1 (docs/SCIENCE.md §2), got {self.beta}")
        if self.loss not in LOSS_NAMES:  # a wrong name is the likeliest mistake: the names sorted
            raise ValueError(f"loss: unknown {self.loss!r}; available: {', '.join(sorted(LOSS_NAMES))}")
        check_choices(self)
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha: expected 0 <= alpha <= 1, got {self.alpha}")
        if not 0 < self.tau < math.inf:
            raise ValueError(f"tau: expected tau > 0, got {self.tau}")
        if self.contrastive_anchors < 0:
            raise ValueError(f"contrastive_anchors: expected 0 (every example) or a positive integer, "
                             f"got {self.contrastive_anchors}")
        if not 0 <= self.gamma < math.inf:
            raise ValueError(f"gamma: expected gamma >= 0, got {self.gamma}")
        for name in ("batch_size", "epochs", "embedding_dim", "integer_buckets", "projection_dim",
                     "diagnostics_every", "categorical_min_count"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected 0 <= dropout < 1, got {self.dropout}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate: expected a finite number > 0, got {self.learning_rate}")
        for name in ("early_stopping_patience", "cross_projection_dim", "cross_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {getattr(self, name)}")
        if any(units < 1 for units in self.dnn_units):
            raise ValueError(f"dnn_units: expected positive layer sizes, got {list(self.dnn_units)}")
        if not self.sparsity_smoothing < math.inf:
            raise ValueError(f"sparsity_smoothing: expected a finite number, got {self.sparsity_smoothing}")
        if self.embedding_l2 is not None and not 0 <= self.embedding_l2 < math.inf:
            raise ValueError(f"embedding_l2: expected a non-negative weight, got {self.embedding_l2}")

    def unsized_fields(self) -> tuple[str, ...]:
        """The settings left to the Trainer's sizing rule (models/sizing.py)."""
        return tuple(name for name in SIZED_FIELDS if getattr(self, name) is None)

    def sized(self, size: DataSize) -> "ModelConfig":
        """A copy with every unset sized setting filled for training data of `size`."""
        values = sized_settings(size, self.batch_size)
        return dataclasses.replace(self, **{name: values[name] for name in self.unsized_fields()})

    @property
    def vocabulary_floor(self) -> int:
        """Transform's vocabulary minimum count: the given one, else the lowest the sizing rule picks
        (the Trainer then sends the values below its sized count to the OOV id)."""
        return self.categorical_min_count if self.categorical_min_count is not None else SPEC_MIN_COUNT

    @property
    def effective_alpha(self) -> float:
        """The BCE weight training uses: the given alpha, else the loss's tuned default; 1.0 (all BCE) for a
        loss without an auxiliary term, whatever was given."""
        if self.alpha is None or self.loss not in AUXILIARY_LOSSES:
            return default_alpha(self.loss, self.beta)
        return self.alpha

    def alpha_source(self) -> str:
        """Where effective_alpha comes from, for summaries."""
        if self.loss not in AUXILIARY_LOSSES:
            return "no auxiliary term" + ("" if self.alpha is None else f"; the given {self.alpha:g} is not used")
        return "given" if self.alpha is not None else f"tuned default at beta {self.beta:g}"

    def to_dict(self) -> dict[str, Any]:
        """The settings with the effective alpha (what trained the model)."""
        d = dataclasses.asdict(self)
        d["alpha"] = self.effective_alpha
        for name in SEQUENCE_FIELDS:
            d[name] = list(d[name])
        return d

    def to_custom_config(self, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        settings = self.to_dict()
        return {MODEL_CONFIG_KEY: {k: settings[k] for k in fields} if fields else settings}

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> "ModelConfig":
        """The ModelConfig a component received (defaults when it received none)."""
        return cls.from_dict((custom_config or {}).get(MODEL_CONFIG_KEY, {}))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


# The tuple-valued fields and their element type, read off the defaults
# ((500, 500, 500) -> int, ...; an empty default holds strings): coerced in
# __post_init__, lists in to_dict, comma-separated on the command line.
SEQUENCE_FIELDS: dict[str, type] = {
    f.name: type(f.default[0]) if f.default else str
    for f in dataclasses.fields(ModelConfig) if isinstance(f.default, tuple)
}
