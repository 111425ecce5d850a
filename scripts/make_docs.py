"""Writes the generated tables of README.md and docs/ from committed results; `--check` compares only.

A generated table sits between two markers in its Markdown file:

    <!-- generated: NAME -->
    ...
    <!-- end generated: NAME -->

and BLOCKS says which committed files (a command's results under benchmarks/results/ or
docs/experiments/, or a grid file) and which function render NAME. `--check` trains and runs nothing: it renders
every block from the committed files and exits 1, naming the file and the block, when a block
differs from what its results give, when a marker names no block here, or when a block's markers
are missing from its file.

Usage: bash scripts/make_docs.sh [--check]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from typing import Callable

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = re.compile(r"^<!-- generated: (\S+) -->$", re.M)


@dataclasses.dataclass(frozen=True)
class Block:
    """A generated table: the Markdown file it sits in, the committed files it is rendered from (JSON or
    YAML), and the function that renders it from their parsed contents, in that order."""
    doc: str
    sources: tuple[str, ...]
    render: Callable[..., str]


def _transform_mode(results: dict) -> str:
    from benchmarks.transform_mode import format_table

    return format_table(results["sizes"])


# The grid settings EXPERIMENTS.md quotes: (column, grid key or model setting).
GRID_COLUMNS = (("rows per dataset", "rows"), ("batch", "batch_size"), ("embedding L2", "embedding_l2"),
                ("dropout", "dropout"), ("vocabulary min count", "categorical_min_count"),
                ("max epochs", "epochs"), ("early-stopping patience", "early_stopping_patience"),
                ("calibration", "calibration"), ("gradient diagnostics", "diagnostics"))


def _grid_settings(*grids: dict) -> str:
    """One row per grid file: its pinned settings (a model setting it leaves out is sized to the data,
    models/sizing.py; calibration defaults to none in experiments)."""
    from sparsectr.experiment import CELL_DEFAULTS

    lines = ["| grid file | " + " | ".join(c for c, _ in GRID_COLUMNS) + " |", "|---|" + "---|" * len(GRID_COLUMNS)]
    for name, grid in zip(GRID_FILES, grids):
        settings = {**CELL_DEFAULTS, **grid.get("model", {}), "rows": grid.get("rows", "- (the --data files')")}
        lines.append(f"| `{name}` | " + " | ".join(str(settings.get(k, "sized to the data")) for _, k in GRID_COLUMNS)
                     + " |")
    return "\n".join(lines)


GRID_FILES = ("docs/experiments/generated.yaml", "docs/experiments/criteo_samples.yaml")
BLOCKS: dict[str, Block] = {
    "transform_mode": Block("docs/PERFORMANCE.md", ("benchmarks/results/transform_mode.json",), _transform_mode),
    "grid_settings": Block("docs/EXPERIMENTS.md", GRID_FILES, _grid_settings),
}


def end_marker(name: str) -> str:
    return f"<!-- end generated: {name} -->"


def _load(path: str):
    with open(path) as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(f)
        return json.load(f)


def render(name: str, project: str = PROJECT) -> str:
    block = BLOCKS[name]
    return block.render(*(_load(os.path.join(project, source)) for source in block.sources)).rstrip("\n")


def regenerate(text: str, doc: str, project: str = PROJECT) -> tuple[str, list[str]]:
    """`text` with every generated block re-rendered, and the problems found: markers naming no block
    or without their end marker, and blocks of `doc` whose markers are missing."""
    problems, out, position = [], [], 0
    found = set()
    for start in START.finditer(text):
        name = start.group(1)
        found.add(name)
        if name not in BLOCKS:
            problems.append(f"{doc}: marker 'generated: {name}' names no block of scripts/make_docs.py (no command "
                            "writes it)")
            continue
        end = text.find(end_marker(name), start.end())
        if end < 0:
            problems.append(f"{doc}: 'generated: {name}' has no '{end_marker(name)}'")
            continue
        out += [text[position:start.end()], "\n", render(name, project), "\n"]
        position = end
    out.append(text[position:])
    missing = sorted(n for n, b in BLOCKS.items() if b.doc == doc and n not in found)
    problems += [f"{doc}: no markers for the generated block '{n}' (add '<!-- generated: {n} -->' and "
                 f"'{end_marker(n)}')" for n in missing]
    return "".join(out), problems


def documents(project: str = PROJECT) -> list[str]:
    """README.md and every Markdown file under docs/, relative to `project`."""
    docs = [os.path.relpath(os.path.join(root, name), project)
            for root, _, names in os.walk(os.path.join(project, "docs")) for name in names if name.endswith(".md")]
    return ["README.md", *sorted(docs)]


def make_docs(check: bool, project: str = PROJECT) -> list[str]:
    """Re-renders every generated block (or, with `check`, only compares); the problems found."""
    problems = []
    for doc in documents(project):
        path = os.path.join(project, doc)
        with open(path) as f:
            text = f.read()
        new, found = regenerate(text, doc, project)
        problems += found
        if new == text:
            continue
        if check:
            changed = [n for n in START.findall(text) if n in BLOCKS and _block(text, n) != _block(new, n)]
            problems += [f"{doc}: the generated block '{n}' differs from what {', '.join(BLOCKS[n].sources)} "
                         "gives; run bash scripts/make_docs.sh" for n in changed]
        else:
            with open(path, "w") as f:
                f.write(new)
            print(f"wrote {doc}")
    return problems


def _block(text: str, name: str) -> str:
    start = text.find(f"<!-- generated: {name} -->")
    return text[start:text.find(end_marker(name), start)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on any difference")
    args = parser.parse_args(argv)
    problems = make_docs(args.check)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems and args.check:
        print(f"{sum(len(START.findall(open(os.path.join(PROJECT, d)).read())) for d in documents())} generated "
              "blocks match their committed results")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, PROJECT)
    sys.exit(main())
