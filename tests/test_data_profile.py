"""The generator's categorical power law, checked against Monte Carlo draws."""
import numpy as np

from synthetic import data_table
from synthetic import profile as dp


def test_ranks_follow_the_cdf():
    rng = np.random.default_rng(0)
    ranks = dp.powerlaw_ranks(rng.random(400_000), 1.3, 50)
    counts = np.bincount(ranks, minlength=51)[1:] / len(ranks)
    k = np.arange(1, 52, dtype=float)
    expected = np.diff(dp.powerlaw_cdf(k, 1.3, 50))
    np.testing.assert_allclose(counts, expected, atol=0.003)
    assert ranks.min() >= 1 and ranks.max() <= 50


def test_expected_distinct_matches_simulation():
    rng = np.random.default_rng(1)
    simulated = [len(np.unique(dp.powerlaw_ranks(rng.random(10_000), 0.8, 5_000))) for _ in range(20)]
    assert abs(dp.expected_distinct(0.8, 5_000, 10_000) - np.mean(simulated)) < 0.01 * np.mean(simulated)


def test_fit_recovers_a_sample_of_known_law():
    rng = np.random.default_rng(2)
    ranks = dp.powerlaw_ranks(rng.random(10_000), 1.1, 20_000)
    _, counts = np.unique(ranks, return_counts=True)
    s, v = dp.fit_powerlaw(10_000, len(counts), counts.max() / 10_000)
    refit = [len(np.unique(dp.powerlaw_ranks(rng.random(10_000), s, v))) for _ in range(10)]
    assert abs(np.mean(refit) - len(counts)) < 0.03 * len(counts)
    assert abs(dp.powerlaw_cdf(np.array([2.0]), s, v)[0] - counts.max() / 10_000) < 1e-3


def test_generated_section_is_replaced_and_the_rest_kept(tmp_path):
    doc = tmp_path / "DATA.md"
    doc.write_text(f"intro\n{data_table._BEGIN}\nold table\n{data_table._END}\noutro\n")
    data_table.replace_generated_section(str(doc), f"{data_table._BEGIN}\nnew table\n{data_table._END}")
    assert doc.read_text() == f"intro\n{data_table._BEGIN}\nnew table\n{data_table._END}\noutro\n"


def test_comparison_table_has_every_column(criteo_dir):
    text = data_table.comparison_markdown(str(criteo_dir / "kaggle_sample200_header.csv"))
    rows = [line for line in text.splitlines() if line.startswith("| I") or line.startswith("| C")]
    assert len(rows) == 39
    assert "200 rows" in text
