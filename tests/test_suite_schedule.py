"""The workers' queue (tests/conftest.py): the long files exist under the names it lists, and they
go out longest first, before the rest."""
from __future__ import annotations

from conftest import LONGEST_FIRST, PROJECT_ROOT, queue_rank


def test_every_listed_long_file_exists():
    missing = [name for name in LONGEST_FIRST if not (PROJECT_ROOT / "tests" / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FIRST names files that do not exist: {missing}"


def test_long_files_go_out_first_in_the_listed_order():
    scopes = ["tests/test_parsing.py", "tests/test_pipeline_e2e.py", "tests/test_losses_pipeline.py",
              "tests/test_model_checks.py"]
    assert sorted(scopes, key=queue_rank) == ["tests/test_losses_pipeline.py", "tests/test_pipeline_e2e.py",
                                              "tests/test_parsing.py", "tests/test_model_checks.py"]
