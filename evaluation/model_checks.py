"""The checks that refuse a model TFMA's thresholds would bless (evaluation/thresholds.py:
ModelChecks), so that a model that diverged or loses to the run's own logistic regression never
reaches serving. The Evaluator's executor (components/run_settings) applies them to
what the Trainer and the two evaluations wrote.


- baseline_auc: the candidate's AUC is below the baseline's by more than `baseline_auc_z` standard
  errors of the difference. Both AUCs come with DeLong's standard error on the same rows; the
  difference's is taken as sqrt(se1^2 + se2^2), which treats the two as independent. Predictions
  of two models on the same rows are positively correlated, so the paired error is smaller: the
  check refuses only a clear loss.
- baseline_logloss: the candidate's beta-weighted logloss exceeds the baseline's by more than
  `baseline_logloss_margin` of it.
- loss_growth: the last epoch's training loss is more than `max_loss_growth` times the first's.
- platt_scale: a Platt calibration whose scale is below `min_platt_scale`: the calibrated model
  all but ignores the network's logit (a scale near 0) or inverts it (below 0).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

from evaluation.results import WEIGHTED_LOGLOSS
from evaluation.thresholds import ModelChecks


@dataclasses.dataclass(frozen=True)
class Refusal:
    """One failed check: its name (a ModelChecks field's rule) and what was measured."""
    rule: str
    message: str


def _baseline_refusals(checks: ModelChecks, evaluation: dict[str, float], baseline: dict[str, float]
                       ) -> list[Refusal]:
    refusals = []
    auc, base_auc = evaluation.get("auc", math.nan), baseline.get("auc", math.nan)
    se = math.hypot(evaluation.get("auc_standard_error", 0.0), baseline.get("auc_standard_error", 0.0))
    if auc < base_auc - checks.baseline_auc_z * se or (math.isnan(auc) and not math.isnan(base_auc)):
        refusals.append(Refusal("baseline_auc", (
            f"AUC {auc:.4f} is below the logistic-regression baseline's {base_auc:.4f} by {base_auc - auc:.4f}, "
            f"more than {checks.baseline_auc_z:g} standard error(s) of the difference ({se:.4f}); "
            "--baseline-auc-z relaxes it")))
    loss, base_loss = evaluation.get(WEIGHTED_LOGLOSS, math.nan), baseline.get(WEIGHTED_LOGLOSS, math.nan)
    if not loss <= base_loss * (1 + checks.baseline_logloss_margin) and not math.isnan(base_loss):
        refusals.append(Refusal("baseline_logloss", (
            f"weighted logloss {loss:.4f} is above the logistic-regression baseline's {base_loss:.4f} by more than "
            f"{checks.baseline_logloss_margin:.0%} of it; --baseline-logloss-margin relaxes it")))
    return refusals


def _training_refusals(checks: ModelChecks, history: dict[str, list[float]]) -> list[Refusal]:
    losses = history.get("loss") or []
    if len(losses) < 2:
        return []
    first, last = losses[0], losses[-1]
    if not last <= checks.max_loss_growth * first:
        return [Refusal("loss_growth", (
            f"training diverged: the last epoch's training loss {last:.4g} is more than {checks.max_loss_growth:g} "
            f"times the first's {first:.4g}; lower --learning-rate, or --max-loss-growth relaxes it"))]
    return []


def _calibration_refusals(checks: ModelChecks, calibration: dict[str, Any]) -> list[Refusal]:
    if calibration.get("kind") != "platt":
        return []
    scale = calibration["scale"]
    if not scale >= checks.min_platt_scale:
        return [Refusal("platt_scale", (
            f"degenerate calibration: the Platt scale {scale:.4g} is below {checks.min_platt_scale:g}, so the "
            "calibrated model all but ignores (or inverts) the network's logit: training diverged or learned "
            "nothing; --min-platt-scale relaxes it"))]
    return []


def check_model(checks: ModelChecks, evaluation: dict[str, float], baseline: Optional[dict[str, float]] = None,
                history: Optional[dict[str, list[float]]] = None,
                calibration: Optional[dict[str, Any]] = None) -> list[Refusal]:
    """Every check that fails; a check whose input is missing (no baseline in the run, no history,
    no calibration) is skipped. `evaluation` and `baseline`: overall metrics (evaluation/results.py)."""
    refusals = []
    if baseline:
        refusals += _baseline_refusals(checks, evaluation, baseline)
    if history:
        refusals += _training_refusals(checks, history)
    if calibration:
        refusals += _calibration_refusals(checks, calibration)
    return refusals
