"""scripts/make_docs.py: the committed docs match their committed results, and a number edited by
hand in a generated table, a marker no command writes, or a block whose markers were removed is
reported by file and block."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import make_docs  # noqa: E402


@pytest.fixture
def project(tmp_path):
    """A copy of what the docs command reads: the Markdown and the committed results."""
    shutil.copy(PROJECT_ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(PROJECT_ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("*.png"))
    shutil.copytree(PROJECT_ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    for name in make_docs.GRID_FILES:
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path


def test_the_committed_docs_match_their_committed_results():
    result = subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "make_docs.sh"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "generated blocks match their committed results" in result.stdout


def test_a_number_edited_by_hand_is_caught_and_rewritten(project):
    doc = project / "docs" / "PERFORMANCE.md"
    text = doc.read_text()
    assert "| 10,000 | 83.1 | 64.4 |" in text
    doc.write_text(text.replace("| 10,000 | 83.1 | 64.4 |", "| 10,000 | 83.1 | 54.4 |"))
    assert make_docs.make_docs(check=True, project=str(project)) == [
        "docs/PERFORMANCE.md: the generated block 'transform_mode' differs from what "
        "benchmarks/results/transform_mode.json gives; run bash scripts/make_docs.sh"]
    assert make_docs.make_docs(check=False, project=str(project)) == []
    assert doc.read_text() == text


def test_markers_without_a_command_and_blocks_without_markers_are_reported(project):
    doc = project / "docs" / "PERFORMANCE.md"
    text = doc.read_text()
    doc.write_text(text.replace("<!-- generated: transform_mode -->", "<!-- generated: typed_by_hand -->"))
    problems = make_docs.make_docs(check=True, project=str(project))
    assert any("marker 'generated: typed_by_hand' names no block" in p for p in problems), problems
    assert any("no markers for the generated block 'transform_mode'" in p for p in problems), problems


def test_the_grid_settings_the_docs_quote_are_the_grid_files(project):
    """A setting changed in a grid file changes the table EXPERIMENTS.md shows, or the check fails."""
    import yaml

    text = (project / "docs" / "EXPERIMENTS.md").read_text()
    for name in make_docs.GRID_FILES:
        model = yaml.safe_load((project / name).read_text())["model"]
        [row] = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        quoted = dict(zip([key for _, key in make_docs.GRID_COLUMNS], cells))
        for key in ("batch_size", "embedding_l2", "dropout", "categorical_min_count", "epochs",
                    "early_stopping_patience"):
            assert quoted[key] == str(model[key]), (name, key, quoted[key], model[key])
    grid = project / make_docs.GRID_FILES[0]
    grid.write_text(grid.read_text().replace("early_stopping_patience: 1", "early_stopping_patience: 3"))
    assert make_docs.make_docs(check=True, project=str(project)) == [
        "docs/EXPERIMENTS.md: the generated block 'grid_settings' differs from what "
        f"{', '.join(make_docs.GRID_FILES)} gives; run bash scripts/make_docs.sh"]
