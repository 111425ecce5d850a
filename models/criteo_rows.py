"""The raw Criteo row format: parsing log lines (CriteoExampleGen, the generator's profile, the
clients), pure Python, no Beam, no TensorFlow.

Every line either becomes a dict of present features (a missing value is left
out, never replaced by 0 or "") or a `RowError` with a reason from
`RejectReason`. Nothing is coerced silently: `260.0` is read as 260 because it
is integral; `2.5`, `abc` or ` 7` are rejected.
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import gzip
import re
import zlib
from decimal import Decimal
from typing import BinaryIO, Iterator, Optional, Union

from models import features

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# ASCII digits only: Python's \d also matches other scripts' digits ("٣"), which int() would read.
_PLAIN_INT = re.compile(r"-?[0-9]+\Z")
_DECIMAL_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
# Bounds checked before any conversion, so that one field costs microseconds whatever its length:
# an int64 has at most 19 digits (a sign and a written-out ".000..." fit in 32 characters), and
# Criteo's categoricals are 8 hex digits (longer values are kept up to this length).
MAX_INTEGER_CHARS = 32
MAX_CATEGORICAL_CHARS = 1024
EXCERPT_CHARS = 40
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
    INTEGER_OUT_OF_RANGE = "integer_out_of_range"
    FIELD_TOO_LONG = "field_too_long"
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

    def without_label(self) -> "Layout":
        """The same layout for rows to score, which may come without the label column."""
        return dataclasses.replace(self, columns=tuple(c for c in self.columns if c != features.LABEL_KEY))

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


UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"


def strip_bom(first_line: bytes) -> bytes:
    """A file's first line without the UTF-8 byte-order mark some editors and exporters write."""
    return first_line[len(UTF8_BOM):] if first_line.startswith(UTF8_BOM) else first_line


def printable(raw: bytes, limit: int = 4096) -> str:
    """The raw text of a line for a rejects report, undecodable bytes escaped; a line longer than
    `limit` bytes is cut there, with its length (the file and line number locate the rest)."""
    raw = raw.rstrip(b"\r\n")
    cut = f"... ({len(raw):,} bytes)" if len(raw) > limit else ""
    return raw[:limit].decode("utf-8", "backslashreplace") + cut


def _looks_like_header(fields: list[str]) -> bool:
    """The first name of a header line, whichever delimiter the header uses."""
    first = re.split(r"[\t,]", fields[0], maxsplit=1)[0]
    return first.strip() in _HEADER_FIRST_FIELDS


def detect_layout(first_line: str, fmt: str = "auto", source: str = "<input>", label_optional: bool = False
                  ) -> Layout:
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
    unlabeled_header = label_optional and fields[0].strip() == features.INTEGER_FEATURE_KEYS[0]
    if not (_looks_like_header(fields) or unlabeled_header):
        if fmt == "csv":
            raise HeaderError(
                f"{source} line 1: expected a header line naming the columns "
                f"(label,I1..I13,C1..C26), got {first_line[:80]!r}; use --format tsv for headerless files"
            )
        if delimiter == ",":
            return Layout(",", features.RAW_COLUMNS, has_header=False)
        return STANDARD_TSV
    return Layout(delimiter, _header_columns(fields, source, label_optional), has_header=True)


def _header_columns(fields: list[str], source: str, label_optional: bool = False) -> tuple[Optional[str], ...]:
    columns: list[Optional[str]] = []
    unknown = []
    for name in (f.strip() for f in fields):
        if name in features.DROPPED_COLUMNS:
            columns.append(None)
        elif name in _HEADER_NAMES:
            columns.append(features.HEADER_ALIASES.get(name, name))
        else:
            unknown.append(name)
    present = [c for c in columns if c]
    missing = [c for c in features.RAW_COLUMNS if c not in present
               and not (label_optional and c == features.LABEL_KEY)]
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


def excerpt(text: str) -> str:
    """A field for a message: its repr, cut at EXCERPT_CHARS characters with its length when longer."""
    if len(text) <= EXCERPT_CHARS:
        return repr(text)
    return f"{text[:EXCERPT_CHARS]!r}... ({len(text):,} characters)"


def parse_integer(text: str) -> int:
    """An integer field: `-3`, `260` or an integral number written as `260.0` or `2.6e2`.

    Length and form are checked before any conversion, and a number's magnitude from its exponent
    before it is expanded: `1e999999999` is rejected at once instead of being built digit by digit."""
    if len(text) > MAX_INTEGER_CHARS:
        raise RowError(RejectReason.FIELD_TOO_LONG,
                       f"{excerpt(text)}: an integer field holds at most {MAX_INTEGER_CHARS} characters")
    if _PLAIN_INT.match(text):
        value = int(text)
    elif _DECIMAL_NUMBER.match(text):
        number = Decimal(text)  # the regex admits only valid decimals; the exponent is not expanded
        if number.is_zero():
            return 0
        if number.adjusted() >= 19:  # |number| >= 1e19 > INT64_MAX
            raise RowError(RejectReason.INTEGER_OUT_OF_RANGE, f"{excerpt(text)} is outside the int64 range")
        if number.adjusted() < 0 or number != number.to_integral_value():
            raise RowError(RejectReason.NON_INTEGRAL_NUMBER, excerpt(text))
        value = int(number)
    else:
        raise RowError(RejectReason.NOT_AN_INTEGER, excerpt(text))
    if not INT64_MIN <= value <= INT64_MAX:
        raise RowError(RejectReason.INTEGER_OUT_OF_RANGE, f"{excerpt(text)} is outside the int64 range")
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
        elif len(text) > MAX_CATEGORICAL_CHARS:
            raise RowError(RejectReason.FIELD_TOO_LONG, f"{name}={excerpt(text)}: a categorical field holds at "
                                                        f"most {MAX_CATEGORICAL_CHARS} characters")
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


def open_local(path: str) -> BinaryIO:
    """A local file for reading, gunzipped when its first bytes say gzip (whatever its name)."""
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def numbered_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of a small local file, the first line without a byte-order mark.
    A truncated or corrupt gzip raises CorruptFileError."""
    with open_local(path) as f, gzip_errors_named(path, isinstance(f, gzip.GzipFile)):
        for number, raw in enumerate(f, start=1):
            yield number, strip_bom(raw) if number == 1 else raw


@contextlib.contextmanager
def gzip_errors_named(path: str, compressed: bool) -> Iterator[None]:
    """Turns the errors of a gzip stream that ends early or holds bad data into CorruptFileError,
    whose message names the file and what to do (instead of an EOFError deep in a traceback)."""
    try:
        yield
    except (EOFError, OSError, zlib.error) as e:
        if not compressed:
            raise
        raise CorruptFileError(corrupt_gzip_message(path, e)) from None


class CorruptFileError(ValueError):
    """A compressed file that cannot be read to its end."""


def corrupt_gzip_message(path: str, error: BaseException) -> str:
    return (f"{path}: the gzip data is truncated or corrupt ({error}); the file was probably not fully "
            "downloaded or copied: fetch it again, check it with `gzip -t`, or leave it out of the input")


@dataclasses.dataclass
class RowsRead:
    """The rows of a file that parsed with their line numbers, and the lines that did not (line
    number, reason)."""
    rows: list[Row]
    bad_lines: list[tuple[int, str]]
    row_lines: list[int] = dataclasses.field(default_factory=list)

    def bad_lines_report(self, path: str, shown: int = 5) -> str:
        first = "; ".join(f"line {n}: {reason}" for n, reason in self.bad_lines[:shown])
        more = f"; {len(self.bad_lines) - shown} more" if len(self.bad_lines) > shown else ""
        return f"{path}: {len(self.bad_lines)} bad line(s) ({first}{more})"


def read_rows_report(path: str, fmt: str = "auto", limit: Optional[int] = None,
                     label_optional: bool = False) -> RowsRead:
    """Parsed rows of a small local file (TSV, CSV, gzip), or its first `limit`, and its bad lines
    (profiling, clients; ingestion uses Beam). `label_optional`: rows to score may come without
    the label column (38 features, or a header without `label`)."""
    read = RowsRead([], [])
    layout: Optional[Layout] = None
    unlabeled: Optional[Layout] = None
    for number, raw in numbered_lines(path):
        if limit is not None and len(read.rows) >= limit:
            break
        try:
            line = decode_line(raw)
            if layout is None:
                layout = detect_layout(line, fmt, source=path, label_optional=label_optional)
                unlabeled = layout.without_label() if label_optional else None
                if layout.has_header:
                    continue
            unlabeled_line = unlabeled is not None and line.count(layout.delimiter) == len(unlabeled.columns) - 1
            read.rows.append(parse_line(line, unlabeled if unlabeled_line else layout))
            read.row_lines.append(number)
        except RowError as e:
            read.bad_lines.append((number, str(e)))
    return read


def read_rows(path: str, fmt: str = "auto", strict: bool = False, limit: Optional[int] = None) -> list[Row]:
    """Parsed rows of a small local file, or its first `limit`. Bad lines are skipped, or with
    `strict` raise a ValueError naming file and line."""
    read = read_rows_report(path, fmt, limit)
    if strict and read.bad_lines:
        number, reason = read.bad_lines[0]
        raise ValueError(f"{path}:{number}: {reason}")
    return read.rows
