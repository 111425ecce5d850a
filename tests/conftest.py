"""Shared test fixtures. Real Criteo rows are read from ../shared/data/criteo
(never copied into the project)."""
from __future__ import annotations

from pathlib import Path

import pytest

import sparsectr  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRITEO_DIR = PROJECT_ROOT.parent / "shared" / "data" / "criteo"
KAGGLE_TSV = CRITEO_DIR / "kaggle_train_head10k.tsv"
TB_TSV = CRITEO_DIR / "criteo1tb_day0_head10k.tsv"
KAGGLE_CSV = CRITEO_DIR / "kaggle_sample200_header.csv"


@pytest.fixture(scope="session")
def criteo_dir() -> Path:
    if not KAGGLE_TSV.exists():
        pytest.fail(f"real Criteo samples not found in {CRITEO_DIR}: the project expects ../shared beside it")
    return CRITEO_DIR

