"""The raw Criteo row format: parsing log lines (CriteoExampleGen, the generator's profile, the
clients), pure Python, no Beam, no TensorFlow.

Every line either becomes a dict of present features (a missing value is left
out, never replaced by 0 or "") or a `RowError` with a reason from
`RejectReason`. Nothing is coerced silently: `260.0` is read as 260 because it
is integral; `2.5`, `abc` or ` 7` are rejected.
"""
from __future__ import annotations

import dataclasses
import enum
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Union

from models import features

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_PLAIN_INT = re.compile(r"-?\d+\Z")
_DECIMAL_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_HEADER_NAMES = frozenset(features.RAW_COLUMNS) | frozenset(features.HEADER_ALIASES) | features.DROPPED_COLUMNS
# A data line never starts with one of these: its first field is a 0/1 label.
_HEADER_FIRST_FIELDS = frozenset(features.HEADER_ALIASES) | features.DROPPED_COLUMNS | {features.LABEL_KEY}

FORMATS = ("auto", "tsv", "csv")
# The share of a file's lines that may be rejected before ingestion fails (CriteoExampleGen).
DEFAULT_MAX_REJECT_FRACTION = 0.001


class RejectReason(str, enum.Enum):
    """Why a line was rejected. The value is the name used in counters and reports."""

    WRONG_COLUMN_COUNT = "wrong_column_count"
    NOT_AN_INTEGER = "not_an_integer"
    NON_INTEGRAL_NUMBER = "non_integral_number"
    BAD_LABEL = "bad_label"
    UNDECODABLE_BYTES = "undecodable_bytes"
    EMPTY_LINE = "empty_line"
    HEADER_IN_MIDDLE = "header_in_middle"


class RowError(ValueError):
    def __init__(self, reason: RejectReason, detail: str):
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class HeaderError(ValueError):
    """The file's header (or its absence) makes the whole file unreadable."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """How the lines of one file are laid out.

    `columns[i]` is the canonical feature name of field i, or None for a
    dropped column (the Kaggle competition's `Id`).
    """

    delimiter: str
    columns: tuple[Optional[str], ...]
    has_header: bool

    def token(self) -> str:
        """A short string that `Layout.from_token` turns back into this layout."""
        if self == STANDARD_TSV:
            return ""
        return self.delimiter + "|" + ",".join(c or "" for c in self.columns)

    @staticmethod
    def from_token(token: str) -> "Layout":
        if not token:
            return STANDARD_TSV
        delimiter, names = token.split("|", 1)
        return Layout(delimiter, tuple(n or None for n in names.split(",")), has_header=True)


STANDARD_TSV = Layout("\t", features.RAW_COLUMNS, has_header=False)


def decode_line(raw: bytes) -> str:
    """Bytes of one line (its line end included or not) to text, CRLF or LF."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RowError(RejectReason.UNDECODABLE_BYTES, f"byte {e.start}: not UTF-8") from None


def printable(raw: bytes) -> str:
    """The raw text of a line for a rejects report, undecodable bytes escaped."""
    return raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")


def _looks_like_header(fields: list[str]) -> bool:
    """The first name of a header line, whichever delimiter the header uses."""
    first = re.split(r"[\t,]", fields[0], maxsplit=1)[0]
    return first.strip().lstrip("\ufeff") in _HEADER_FIRST_FIELDS


def detect_layout(first_line: str, fmt: str = "auto", source: str = "<input>") -> Layout:
    """The layout of a file from its first line.

    `fmt` is `auto` (detect), `tsv` (tab-separated, no header: Kaggle
    train.txt, 1TB day files) or `csv` (comma-separated with a header line).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "tsv":
        return STANDARD_TSV
    delimiter = "," if fmt == "csv" or ("\t" not in first_line and "," in first_line) else "\t"
    fields = first_line.split(delimiter)
    if not _looks_like_header(fields):
        if fmt == "csv":
            raise HeaderError(
                f"{source} line 1: expected a header line naming the columns "
                f"(label,I1..I13,C1..C26), got {first_line[:80]!r}; use --format tsv for headerless files"
            )
        if delimiter == ",":
            return Layout(",", features.RAW_COLUMNS, has_header=False)
        return STANDARD_TSV
    return Layout(delimiter, _header_columns(fields, source), has_header=True)


def _header_columns(fields: list[str], source: str) -> tuple[Optional[str], ...]:
    columns: list[Optional[str]] = []
    unknown = []
    for name in (f.strip().lstrip("\ufeff") for f in fields):
        if name in features.DROPPED_COLUMNS:
            columns.append(None)
        elif name in _HEADER_NAMES:
            columns.append(features.HEADER_ALIASES.get(name, name))
        else:
            unknown.append(name)
    present = [c for c in columns if c]
    missing = [c for c in features.RAW_COLUMNS if c not in present]
    repeated = sorted({c for c in present if present.count(c) > 1})
    if unknown or missing or repeated:
        problems = []
        if unknown:
            problems.append(f"unknown columns {unknown}")
        if missing:
            problems.append(f"missing columns {missing}")
        if repeated:
            problems.append(f"repeated columns {repeated}")
        raise HeaderError(
            f"{source} line 1: the header has {'; '.join(problems)}; "
            f"expected label (or Label), I1..I13, C1..C26 and optionally Id"
        )
    return tuple(columns)


def parse_integer(text: str) -> int:
    """An integer field: `-3`, `260` or an integral number written as `260.0`."""
    if _PLAIN_INT.match(text):
        value = int(text)
    elif _DECIMAL_NUMBER.match(text):
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            raise RowError(RejectReason.NOT_AN_INTEGER, repr(text)) from None
        if number != number.to_integral_value():
            raise RowError(RejectReason.NON_INTEGRAL_NUMBER, repr(text))
        value = int(number)
    else:
        raise RowError(RejectReason.NOT_AN_INTEGER, repr(text))
    if not INT64_MIN <= value <= INT64_MAX:
        raise RowError(RejectReason.NOT_AN_INTEGER, f"{text!r} is outside the int64 range")
    return value


Row = dict[str, Union[int, bytes]]


def parse_line(line: str, layout: Layout) -> Row:
    """The present features of one decoded line; raises RowError."""
    if not line.strip():
        raise RowError(RejectReason.EMPTY_LINE, "empty line")
    fields = line.split(layout.delimiter)
    if len(fields) != len(layout.columns):
        if _looks_like_header(fields):
            raise RowError(RejectReason.HEADER_IN_MIDDLE, "a header line after the first line")
        raise RowError(
            RejectReason.WRONG_COLUMN_COUNT, f"{len(fields)} columns, expected {len(layout.columns)}"
        )
    row: Row = {}
    for name, text in zip(layout.columns, fields):
        if name is None:
            continue
        if name == features.LABEL_KEY:
            row[name] = _parse_label(text, fields)
        elif text == "":
            continue
        elif name[0] == "I":
            try:
                row[name] = parse_integer(text)
            except RowError as e:
                raise RowError(e.reason, f"{name}={e.detail}") from None
        else:
            row[name] = text.encode("utf-8")
    return row


def _parse_label(text: str, fields: list[str]) -> int:
    if text in ("0", "1"):
        return int(text)
    if _looks_like_header(fields):
        raise RowError(RejectReason.HEADER_IN_MIDDLE, "a header line after the first line")
    try:
        value = parse_integer(text) if text else None
    except RowError:
        value = None
    if value not in (0, 1):
        raise RowError(RejectReason.BAD_LABEL, f"label={text!r}, expected 0 or 1")
    return value


def read_rows(path: str, fmt: str = "auto", strict: bool = False, limit: Optional[int] = None
              ) -> list[dict[str, Any]]:
    """Parsed rows of a small local file, or its first `limit` (profiling, clients; ingestion uses
    Beam). Bad lines are skipped, or with `strict` raise a ValueError naming file and line."""
    rows = []
    with open(path, "rb") as f:
        first = True
        layout = None
        for number, raw in enumerate(f, start=1):
            if limit is not None and len(rows) >= limit:
                break
            if first:
                layout = detect_layout(decode_line(raw), fmt, source=path)
                first = False
                if layout.has_header:
                    continue
            try:
                rows.append(parse_line(decode_line(raw), layout))
            except RowError as e:
                if strict:
                    raise ValueError(f"{path}:{number}: {e}") from None
    return rows
