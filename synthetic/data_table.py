"""The real-vs-synthetic table of docs/DATA.md (`sparsectr data-table`): each column's statistics
on real rows beside the same statistics on as many generated rows."""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from models import features
from models.criteo_rows import read_rows
from synthetic import generator
from synthetic.profile import column_statistics

_BEGIN = "<!-- BEGIN GENERATED: sparsectr data-table -->"
_END = "<!-- END GENERATED -->"


def _fmt(x: float, percent: bool = False) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if percent:
        return f"{x:.1%}"
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:.2f}"


# (statistic, shown as a percentage) per kind of column, in table order.
_INTEGER_STATISTICS = (("missing", True), ("median", False), ("p90", False), ("p99", False), ("max", False),
                       ("negative", True))
_CATEGORICAL_STATISTICS = (("missing", True), ("distinct", False), ("top_share", True), ("singletons", True))


def _side_by_side(names, statistics, real, synth) -> list[str]:
    """Markdown rows: each statistic on real rows, then on synthetic rows."""
    titles = " | ".join(f"{key.replace('_', ' ')} real | {key.replace('_', ' ')} synth" for key, _ in statistics)
    lines = [f"| column | {titles} |", "|---" * (1 + 2 * len(statistics)) + "|"]
    for name in names:
        cells = " | ".join(f"{_fmt(real[name][key], pct)} | {_fmt(synth[name][key], pct)}" for key, pct in statistics)
        lines.append(f"| {name} | {cells} |")
    return lines


def comparison_markdown(real_path: str, seed: int = 0) -> str:
    """A Markdown table: each column's statistics on real rows and on as many
    synthetic rows, generated at the real positive rate."""
    real_rows = read_rows(real_path)
    real = column_statistics(real_rows)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "synthetic.tsv")
        generator.generate_to_path(rows=len(real_rows), positive_rate=real[features.LABEL_KEY]["positive_rate"],
                                   seed=seed, out=out, workers=1)
        synth = column_statistics(read_rows(out))
    lines = [
        _BEGIN,
        f"Real: `{os.path.basename(real_path)}` ({len(real_rows):,} rows, "
        f"{real[features.LABEL_KEY]['positive_rate']:.1%} positives). Synthetic: the same number of rows "
        f"(`seed={seed}`), {synth[features.LABEL_KEY]['positive_rate']:.1%} positives.",
        "",
    ]
    lines += _side_by_side(features.INTEGER_FEATURE_KEYS, _INTEGER_STATISTICS, real, synth)
    lines.append("")
    lines += _side_by_side(features.CATEGORICAL_FEATURE_KEYS, _CATEGORICAL_STATISTICS, real, synth)
    lines.append(_END)
    return "\n".join(lines)


def replace_generated_section(path: str, generated: str) -> None:
    """Replaces the generated block of a Markdown file (or appends it)."""
    text = Path(path).read_text() if os.path.exists(path) else ""
    if _BEGIN in text and _END in text:
        head, rest = text.split(_BEGIN, 1)
        tail = rest.split(_END, 1)[1]
        text = head + generated + tail
    else:
        text = text + ("\n" if text else "") + generated + "\n"
    Path(path).write_text(text)

