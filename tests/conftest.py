"""Shared test fixtures. Real Criteo rows are read from ../shared/data/criteo
(never copied into the project)."""
from __future__ import annotations

from pathlib import Path

import pytest

import models  # noqa: F401  (selects Keras 2 before TensorFlow loads)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRITEO_DIR = PROJECT_ROOT.parent / "shared" / "data" / "criteo"
KAGGLE_TSV = CRITEO_DIR / "kaggle_train_head10k.tsv"
TB_TSV = CRITEO_DIR / "criteo1tb_day0_head10k.tsv"
KAGGLE_CSV = CRITEO_DIR / "kaggle_sample200_header.csv"


def in_memory_beam_args() -> tuple[str, ...]:
    """The local Beam args with one in-process worker: quicker than Beam's worker processes on 10k rows
    (tests/test_data_pipeline_e2e.py keeps the multi-process default)."""
    from pipeline.config import LOCAL_BEAM_ARGS

    return tuple("--direct_running_mode=in_memory" if a.startswith("--direct_running_mode") else a
                 for a in LOCAL_BEAM_ARGS if not a.startswith("--direct_num_workers"))


@pytest.fixture(scope="session")
def criteo_dir() -> Path:
    if not KAGGLE_TSV.exists():
        pytest.fail(f"real Criteo samples not found in {CRITEO_DIR}: the project expects ../shared beside it")
    return CRITEO_DIR


def pytest_collection_modifyitems(config, items):
    """End-to-end files first, so that pytest-xdist's two workers start the long pipeline files at
    once and fill in with the quick ones, instead of one worker starting a long file at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
