"""Per-column statistics of Criteo rows and the generator's column profile fitted to real rows
(`sparsectr fit-profile`; synthetic/criteo_profile.json is the fit to the Kaggle sample).

Integer columns are described by their missing rate and the quantile function
of their values in signed-log space (`sign(x) * log1p(|x|)`), which keeps the
heavy tails and the negative sentinels. Categorical columns are described by
their missing rate, the share of their most frequent value (rank 1), and a
power law over the other values: rank 1 + k, k in 1..V, with density
proportional to x^-s on [1, V+1) (k = floor(x)). V and s are chosen so that a
sample of the real size has the real sample's number of distinct values and
second-value share. (A pure power law cannot give C10 or C19 of Criteo both
their dominant value and their long tail.)
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from models import features
from models.criteo_rows import read_rows

PROFILE_PATH = Path(__file__).with_name("criteo_profile.json")
NUM_QUANTILES = 201
MAX_VOCABULARY = 50_000_000
_EXACT_TERMS = 200_000


def signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def signed_log_bucket(x: np.ndarray) -> np.ndarray:
    """Integer counts -> buckets of half a unit of signed log (0, 1, 2, 3-4, 5-7, ...)."""
    return np.floor(2 * signed_log(np.asarray(x, dtype=np.float64))).astype(np.int64)


def signed_exp(t: np.ndarray) -> np.ndarray:
    return np.sign(t) * np.expm1(np.abs(t))


# --- the categorical power law ------------------------------------------------

def powerlaw_cdf(x: np.ndarray, s: float, vocabulary: int) -> np.ndarray:
    """CDF of the density proportional to x^-s on [1, V+1)."""
    top = vocabulary + 1.0
    if abs(1.0 - s) < 1e-9:
        return np.log(x) / math.log(top)
    a = 1.0 - s
    return (np.power(x, a) - 1.0) / (top**a - 1.0)


def powerlaw_ranks(u: np.ndarray, s: float, vocabulary: int) -> np.ndarray:
    """Ranks in 1..V from uniforms in [0, 1): the inverse of `powerlaw_cdf`."""
    top = vocabulary + 1.0
    if abs(1.0 - s) < 1e-9:
        x = np.power(top, u)
    else:
        a = 1.0 - s
        x = np.power(1.0 + u * (top**a - 1.0), 1.0 / a)
    return np.clip(np.floor(x), 1, vocabulary).astype(np.int64)


def categorical_ranks(rng: np.random.Generator, n: int, spec: dict[str, Any]) -> np.ndarray:
    """Ranks >= 1 of a categorical column: 1 (the head value) or 1 + power-law rank."""
    head = rng.random(n) < spec["head_share"]
    tail = 1 + powerlaw_ranks(rng.random(n), spec["exponent"], spec["vocabulary"])
    return np.where(head, 1, tail)


def _top_share(s: float, vocabulary: int) -> float:
    return float(powerlaw_cdf(np.array([2.0]), s, vocabulary)[0])


def expected_distinct(s: float, vocabulary: int, n: int) -> float:
    """Expected number of distinct ranks in n draws (exact head, linear tail)."""
    k = np.arange(1, min(vocabulary, _EXACT_TERMS) + 2, dtype=np.float64)
    cdf = powerlaw_cdf(k, s, vocabulary)
    p = np.diff(cdf)
    head = float(np.sum(-np.expm1(n * np.log1p(-np.minimum(p, 1 - 1e-15)))))
    tail_mass = 1.0 - cdf[-1]
    return head + n * max(tail_mass, 0.0)


def _exponent_for_top_share(top_share: float, vocabulary: int) -> float:
    lo, hi = 0.0, 30.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if _top_share(mid, vocabulary) < top_share:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def fit_powerlaw(n: int, distinct: int, top_share: float) -> tuple[float, int]:
    """(s, V) whose n-draw sample has `distinct` values and `top_share` on top."""
    if distinct <= 1:
        return 30.0, 1

    def gap(log_v: float) -> tuple[float, float, int]:
        v = int(round(math.exp(log_v)))
        s = _exponent_for_top_share(top_share, v)
        return expected_distinct(s, v, n) - distinct, s, v

    lo, hi = math.log(distinct), math.log(MAX_VOCABULARY)
    g, s, v = gap(lo)
    if g >= -0.5:
        return s, v
    g, s, v = gap(hi)
    if g <= 0:
        return s, v
    for _ in range(40):
        mid = (lo + hi) / 2
        g, s, v = gap(mid)
        if g < 0:
            lo = mid
        else:
            hi = mid
    return s, v


# --- statistics and fitting ----------------------------------------------------

def column_statistics(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """What docs/DATA.md compares, per column."""
    n = len(rows)
    stats: dict[str, dict[str, float]] = {
        features.LABEL_KEY: {"rows": n, "positive_rate": float(np.mean([r[features.LABEL_KEY] for r in rows]))}
    }
    for name in features.INTEGER_FEATURE_KEYS:
        values = np.array([r[name] for r in rows if name in r], dtype=np.float64)
        stats[name] = {
            "missing": 1 - len(values) / n,
            "median": float(np.median(values)) if len(values) else float("nan"),
            "p90": float(np.quantile(values, 0.9)) if len(values) else float("nan"),
            "p99": float(np.quantile(values, 0.99)) if len(values) else float("nan"),
            "max": float(values.max()) if len(values) else float("nan"),
            "negative": float(np.mean(values < 0)) if len(values) else 0.0,
        }
    for name in features.CATEGORICAL_FEATURE_KEYS:
        values = [r[name] for r in rows if name in r]
        _, counts = np.unique(np.array(values, dtype=object), return_counts=True) if values else (None, np.array([]))
        stats[name] = {
            "missing": 1 - len(values) / n,
            "distinct": int(len(counts)),
            "top_share": float(counts.max() / len(values)) if len(values) else 0.0,
            "singletons": float(np.mean(counts == 1)) if len(counts) else 0.0,
        }
    return stats


def fit_profile(path: str) -> dict[str, Any]:
    """The generator's profile of every column, fitted to the rows in `path`."""
    rows = read_rows(path)
    n = len(rows)
    profile: dict[str, Any] = {
        "source": os.path.basename(path),
        "rows": n,
        "positive_rate": float(np.mean([r[features.LABEL_KEY] for r in rows])),
        "integer": {},
        "categorical": {},
    }
    probabilities = np.linspace(0, 1, NUM_QUANTILES)
    for name in features.INTEGER_FEATURE_KEYS:
        values = np.array([r[name] for r in rows if name in r], dtype=np.float64)
        profile["integer"][name] = {
            "missing": round(1 - len(values) / n, 6),
            "signed_log_quantiles": [round(float(q), 6) for q in np.quantile(signed_log(values), probabilities)],
        }
    for name in features.CATEGORICAL_FEATURE_KEYS:
        values = [r[name] for r in rows if name in r]
        _, counts = np.unique(np.array(values, dtype=object), return_counts=True)
        counts = np.sort(counts)[::-1]
        tail = len(values) - counts[0]
        s, v = fit_powerlaw(tail, len(counts) - 1, counts[1] / tail) if len(counts) > 1 else (30.0, 1)
        profile["categorical"][name] = {
            "missing": round(1 - len(values) / n, 6),
            "head_share": round(counts[0] / len(values), 6),
            "exponent": round(s, 6),
            "vocabulary": v,
        }
    return profile


def load_profile(path: Path = PROFILE_PATH) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)
