"""Rows in and probabilities out for `sparsectr predict` and `serve-client`: a file of raw rows
(TSV or CSV, gzip or not, with or without the label column), its bad lines reported and left
out, and one output line per data line so that predictions stay aligned with the input."""
from __future__ import annotations

import os
import sys
from typing import Callable, Optional, Sequence

from models.criteo_rows import RowsRead, read_rows_report


class ScoringInputError(RuntimeError):
    """The rows to score cannot be used (missing, empty, or bad lines under --strict)."""


def read_rows_to_score(path: str, fmt: str, strict: bool = False,
                       warn: Callable[[str], None] = lambda line: None) -> RowsRead:
    if not os.path.isfile(path):
        raise ScoringInputError(f"{path}: no such file")
    read = read_rows_report(path, fmt, label_optional=True)
    if read.bad_lines:
        report = read.bad_lines_report(path)
        if strict:
            raise ScoringInputError(f"{report}; --strict refuses a file with bad lines")
        warn(f"WARNING: {report}; they are written as nan, the other {len(read.rows)} rows are scored "
             "(--strict refuses such a file)")
    if not read.rows:
        raise ScoringInputError(f"{path}: no rows to score (the file is empty, holds a header only, or no line "
                                "could be read)")
    return read


def write_probabilities(probabilities: Sequence[float], read: RowsRead, out: Optional[str]) -> None:
    """One line per data line of the input, in order: the probability, or `nan` for a bad line."""
    by_line = {number: f"{p:.8f}" for number, p in zip(read.row_lines, probabilities)}
    by_line.update({number: "nan" for number, _ in read.bad_lines})
    text = "".join(by_line[number] + "\n" for number in sorted(by_line))
    if out:
        with open(out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
