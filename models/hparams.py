"""Model, training and feature-transform settings: one dataclass, one set of
defaults (SPEC section 5 for the DCN-V2; section 2 for beta).

It travels to Transform and Trainer as their `custom_config` (a JSON dict), so
the trained model records exactly what produced it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from models.calibration import CALIBRATIONS
from models.features import FEATURE_KEYS
from models.sizing import SIZED_FIELDS, SPEC_MIN_COUNT, DataSize, sized_settings

STRUCTURES = ("parallel", "stacked")
# The Trainer's tf.distribute strategies (models/distribute.py).
DISTRIBUTIONS = ("auto", "one_worker", "multi_worker")
# Validation metrics early stopping can watch, and whether higher is better.
MONITORS = {"auc": "max", "weighted_logloss": "min"}
# Key of the ModelConfig dict in Transform's and Trainer's custom_config.
MODEL_CONFIG_KEY = "model"
# Each loss's BCE weight alpha when none is given: the paper's tuned values
# (SPEC 3, its official configs). Combined-Pair's was tuned per beta: the value
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


@dataclasses.dataclass
class ModelConfig:
    # Features (Transform).
    # Fields left None are sized to the training data by the Trainer (models/sizing.py).
    categorical_min_count: Optional[int] = None  # values seen fewer times go to the OOV id
    integer_buckets: int = 32  # quantile buckets of sign(x) * log(1 + |x|)
    beta: float = 1.0  # example weight of positives (SPEC 2); negatives weigh 1
    # Sparsity buckets (models/sparsity.py, docs/EVALUATION.md): the training
    # split's beta-weighted positive rate of each value of `sparsity_key` (one
    # categorical, or a cross of two), smoothed towards the overall rate with
    # `sparsity_smoothing` pseudo-examples, cut at `sparsity_boundaries`.
    sparsity_key: tuple[str, ...] = ("C2",)
    sparsity_smoothing: float = 20.0
    sparsity_boundaries: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25)
    # Evaluation slices by raw value of these features, besides overall and the
    # sparsity buckets (models/slices.py; Transform writes the values TFMA reads).
    slice_features: tuple[str, ...] = ()
    # DCN-V2 (SPEC 5).
    embedding_dim: int = 10
    structure: str = "parallel"
    cross_layers: int = 3
    cross_projection_dim: int = 0  # 0 = full-rank cross layers; > 0 = low-rank
    dnn_units: tuple[int, ...] = (500, 500, 500)
    dropout: Optional[float] = None
    embedding_l2: Optional[float] = None
    # Optimisation.
    loss: str = "bce"
    # Weight of BCE in alpha * BCE + (1 - alpha) * auxiliary term (JRC: of its
    # calibration term). None = the loss's tuned default (DEFAULT_ALPHA); the
    # field keeps None so that a copy with another loss gets that loss's default.
    alpha: Optional[float] = None
    gamma: float = 2.0  # focal loss exponent (loss "focal")
    tau: float = 0.1  # temperature of the contrastive loss
    projection_dim: int = 16  # contrastive projection head: Dense(64, relu) -> Dense(projection_dim) -> L2 norm
    # Anchors per batch of the contrastive term (0 = every example): bounds its
    # similarity matrix to [anchors, batch] (docs/PERFORMANCE.md: step time).
    contrastive_anchors: int = 1024
    learning_rate: float = 1e-3
    # Validation metric of early stopping, the learning-rate schedule and the
    # kept epoch (SPEC 5: AUC). weighted_logloss also watches calibration.
    monitor: str = "auc"
    # Post-hoc calibration of the click logit on the validation rows, built into
    # the serving signatures (models/calibration.py): none, platt or isotonic.
    # Platt by default: it fixes the level of the predictions at no cost in AUC
    # (docs/PERFORMANCE.md); `sparsectr experiment` cells use none.
    calibration: str = "platt"
    batch_size: Optional[int] = None
    epochs: int = 10
    early_stopping_patience: int = 2
    # Gradient diagnostics (models/diagnostics.py): off, or on every batch with
    # layer percentiles and the negatives' histogram every `diagnostics_every` steps.
    diagnostics: bool = False
    diagnostics_every: int = 20
    seed: int = 0
    # tf.distribute strategy of the Trainer (models/distribute.py): auto = several workers when
    # TF_CONFIG describes a cluster, else one process.
    distribution: str = "auto"

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
        if self.structure not in STRUCTURES:
            raise ValueError(f"structure: expected one of {STRUCTURES}, got {self.structure!r}")
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"beta: expected 0 < beta <= 1 (SPEC section 2), got {self.beta}")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor: expected one of {', '.join(MONITORS)}, got {self.monitor!r}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration: expected one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution: expected one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}")
        if self.loss not in DEFAULT_ALPHA:
            raise ValueError(f"loss: unknown {self.loss!r}; available: {', '.join(sorted(DEFAULT_ALPHA))}")
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha: expected 0 <= alpha <= 1, got {self.alpha}")
        if self.tau <= 0:
            raise ValueError(f"tau: expected tau > 0, got {self.tau}")
        if self.contrastive_anchors < 0:
            raise ValueError(f"contrastive_anchors: expected 0 (every example) or a positive integer, "
                             f"got {self.contrastive_anchors}")
        if self.gamma < 0:
            raise ValueError(f"gamma: expected gamma >= 0, got {self.gamma}")
        for name in ("batch_size", "epochs", "embedding_dim", "integer_buckets", "projection_dim",
                     "diagnostics_every", "categorical_min_count"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected 0 <= dropout < 1, got {self.dropout}")
        if self.embedding_l2 is not None and self.embedding_l2 < 0:
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
