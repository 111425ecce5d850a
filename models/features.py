"""Criteo feature names: the one source of truth for every other module.

A raw Criteo row is `label, I1..I13, C1..C26`: a 0/1 click label, 13 integer
count features and 26 categorical features (32-bit hashes written as 8 hex
digits). Any of the 39 features may be missing.
"""
from __future__ import annotations

LABEL_KEY = "label"
NUM_INTEGER_FEATURES = 13
NUM_CATEGORICAL_FEATURES = 26

INTEGER_FEATURE_KEYS: tuple[str, ...] = tuple(f"I{i}" for i in range(1, NUM_INTEGER_FEATURES + 1))
CATEGORICAL_FEATURE_KEYS: tuple[str, ...] = tuple(f"C{i}" for i in range(1, NUM_CATEGORICAL_FEATURES + 1))
FEATURE_KEYS: tuple[str, ...] = INTEGER_FEATURE_KEYS + CATEGORICAL_FEATURE_KEYS

# Column order of a raw Criteo log line (Kaggle train.txt and the 1TB day files).
RAW_COLUMNS: tuple[str, ...] = (LABEL_KEY,) + FEATURE_KEYS
NUM_RAW_COLUMNS = len(RAW_COLUMNS)  # 40

# Column names accepted in a CSV header, mapped to the canonical name. The
# Kaggle competition's train.csv writes `Id,Label,I1,...`; `Id` is dropped.
HEADER_ALIASES: dict[str, str] = {"Label": LABEL_KEY, "label": LABEL_KEY}
DROPPED_COLUMNS: frozenset[str] = frozenset({"Id", "id"})
