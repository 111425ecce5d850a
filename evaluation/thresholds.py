"""The blessing rule's thresholds (evaluation/config.py turns them into TFMA's) and the checks that
refuse a model those thresholds would bless (evaluation/model_checks.py)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BlessingThresholds:
    """The candidate must reach `min_auc`, and against the latest blessed model lose at most
    `auc_tolerance` of AUC and gain at most `logloss_tolerance` of weighted logloss."""
    min_auc: float = 0.5
    auc_tolerance: float = 1e-3
    logloss_tolerance: float = 1e-3


@dataclasses.dataclass(frozen=True)
class ModelChecks:
    """Fail-closed checks beside TFMA's thresholds (README, "Blessing"): against the run's own
    logistic-regression baseline, the candidate's AUC may be lower by at most `baseline_auc_z`
    standard errors of the difference and its weighted logloss higher by at most
    `baseline_logloss_margin` (a fraction of the baseline's); its training loss may end at most
    `max_loss_growth` times its first epoch's; a Platt calibration's scale must be at least
    `min_platt_scale`. `inf` (or 0 for the last) turns a check off."""
    baseline_auc_z: float = 1.0
    baseline_logloss_margin: float = 0.05
    max_loss_growth: float = 2.0
    min_platt_scale: float = 0.1
