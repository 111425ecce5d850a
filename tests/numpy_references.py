"""Independent NumPy references shared by several tests."""
from __future__ import annotations

import numpy as np


def delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's standard error from the full matrix of positive-negative pairs (ties half)."""
    pos, neg = p[y == 1].astype(np.float64), p[y == 0].astype(np.float64)
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))
