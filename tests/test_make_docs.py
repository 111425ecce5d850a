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
