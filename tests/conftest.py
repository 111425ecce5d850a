"""Shared test fixtures. Real Criteo rows come from the repository's gzip-compressed samples
(tests/data/criteo/README.md: what they are and where they come from), unpacked once per session."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

import models  # noqa: F401  (selects Keras 2 before TensorFlow loads)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = PROJECT_ROOT / "tests" / "data" / "criteo"
SAMPLE_NAMES = ("kaggle_train_head10k.tsv", "criteo1tb_day0_head10k.tsv", "kaggle_sample200_header.csv")


def unpack_samples(target: Path) -> Path:
    """The real samples, uncompressed, in `target` (under the names the tests use), readable by any
    user: the Kubeflow container test mounts the folder into an image that runs as a non-root user."""
    target.chmod(0o755)
    for name in SAMPLE_NAMES:
        with gzip.open(SAMPLES_DIR / f"{name}.gz", "rb") as src, open(target / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


def in_memory_beam_args() -> tuple[str, ...]:
    """The local Beam args with one in-process worker: quicker than Beam's worker processes on 10k rows
    (tests/test_data_pipeline_e2e.py keeps the multi-process default)."""
    from pipeline.config import LOCAL_BEAM_ARGS

    return tuple("--direct_running_mode=in_memory" if a.startswith("--direct_running_mode") else a
                 for a in LOCAL_BEAM_ARGS if not a.startswith("--direct_num_workers"))


@pytest.fixture(scope="session")
def criteo_dir(tmp_path_factory) -> Path:
    return unpack_samples(tmp_path_factory.mktemp("criteo"))


def pytest_collection_modifyitems(config, items):
    """End-to-end files first, so that pytest-xdist's two workers start the long pipeline files at
    once and fill in with the quick ones, instead of one worker starting a long file at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
