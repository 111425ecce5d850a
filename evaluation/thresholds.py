"""The blessing rule's thresholds (evaluation/config.py turns them into TFMA's)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BlessingThresholds:
    """The candidate must reach `min_auc`, and against the latest blessed model lose at most
    `auc_tolerance` of AUC and gain at most `logloss_tolerance` of weighted logloss."""
    min_auc: float = 0.5
    auc_tolerance: float = 1e-3
    logloss_tolerance: float = 1e-3
