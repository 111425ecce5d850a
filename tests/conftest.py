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


# The files that take minutes, longest first (pytest --durations on 2 cores). pytest-xdist's
# loadfile queue is ordered by each file's number of tests, which would start a one-test pipeline
# file last and leave one worker idle while the other finishes it.
LONGEST_FIRST = ("test_losses_pipeline.py", "test_experiment_pipeline.py", "test_pipeline_e2e.py",
                 "test_data_pipeline_e2e.py", "test_synthetic.py", "test_dcn.py", "test_preprocessing.py",
                 "test_diagnostics.py", "test_resume_and_distribute.py")


def queue_rank(scope: str) -> int:
    """A file's place in the workers' queue: the LONGEST_FIRST files in that order, then the rest."""
    name = scope.rsplit("/", 1)[-1]
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_xdist_make_scheduler(config, log):
    """Longest file first to whichever worker asks (LPT scheduling), one file per worker at a time."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _assign_work_unit(self, node) -> None:
            self.workqueue.move_to_end(min(self.workqueue, key=queue_rank), last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)
