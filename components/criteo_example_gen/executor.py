"""Beam executor of CriteoExampleGen: raw Criteo logs -> tf.Examples + rejects.

TFX's BaseExampleGenExecutor does the splitting (hash of the serialized row),
the writing and the span bookkeeping; this executor supplies the PTransform
that turns raw lines into serialized tf.Examples, and sends every line that
cannot be read to the `rejects` artifact, with file, line number, reason and
raw text. After the Beam pipeline has run, the rejected fraction is checked
against `max_reject_fraction`.
"""
from __future__ import annotations

import collections
import dataclasses
import gzip
import io
import json
import os
from typing import Any, Iterator, Optional

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import artifact_utils, standard_component_specs

from components.criteo_example_gen import spec
from models.example_bytes import serialize_row
from models.criteo_rows import (
    GZIP_MAGIC,
    CorruptFileError,
    HeaderError,
    Layout,
    RowError,
    decode_line,
    detect_layout,
    gzip_errors_named,
    parse_line,
    printable,
    strip_bom,
)
from models import features

COUNTER_NAMESPACE = "CriteoExampleGen"
NUM_FIRST_REJECTS = 20
SUMMARY_FILE = "summary.json"
REJECTS_PREFIX = "rejects"
FAILED_REJECTS_DIR = "rejects-failed"
_REJECTS = "rejects"
_COUNTS = "counts"
_UNREADABLE = "unreadable"


def is_gzip(path: str) -> bool:
    """Whether the file's first bytes say gzip (whatever its name)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
        return raw.read(2) == GZIP_MAGIC


def open_raw_file(path: str, compressed: Optional[bool] = None) -> io.BufferedIOBase:
    """Opens a local or remote file, gunzipping it when its first bytes say gzip (`compressed`:
    already known)."""
    compressed = is_gzip(path) if compressed is None else compressed
    raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    if compressed:
        return io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=1 << 20)
    return raw


# Uncompressed files are read in ranges, in parallel: of at most RANGE_BYTES, and at least
# MIN_RANGES per file when that leaves ranges of MIN_RANGE_BYTES or more, so that every worker has
# a share of a single file. Gzip cannot be split: one reader per .gz file.
RANGE_BYTES = 64 << 20
MIN_RANGES = 16
MIN_RANGE_BYTES = 1 << 20
_SCAN_CHUNK = 8 << 20


@dataclasses.dataclass(frozen=True)
class LineRange:
    """Lines of `path` from byte `start` (a line start) to `end` (exclusive; -1 = end of file), the
    first numbered `first_line` (1-based, the header counted). `skip_header`: the range's first line
    is the file's header."""
    path: str
    start: int
    end: int
    first_line: int
    layout: str  # Layout.token()
    skip_header: bool = False


def _file_layout(path: str, input_format: str, compressed: bool) -> Optional[Layout]:
    """The file's layout from its first line; None for an empty file."""
    with open_raw_file(path, compressed) as handle, gzip_errors_named(path, compressed):
        first = strip_bom(handle.readline())
    if not first:
        return None
    try:
        first_text = decode_line(first)
    except RowError:
        first_text = ""  # undecodable: not a header; rejected as a data line
    return detect_layout(first_text, input_format, source=path)


def plan_ranges(path: str, input_format: str, range_bytes: Optional[int] = None) -> list[LineRange]:
    """The ranges a file is read in: one for a gzip or small file; else ranges of about `range_bytes`
    (default: see RANGE_BYTES), each starting at a line start, their first line numbers from one
    pass counting newlines."""
    compressed = is_gzip(path)
    layout = _file_layout(path, input_format, compressed)
    if layout is None:
        return []
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    range_bytes = range_bytes or max(min(RANGE_BYTES, size // MIN_RANGES), MIN_RANGE_BYTES)
    token = layout.token()
    if size <= range_bytes or compressed:
        return [LineRange(path, 0, -1, 1, token, layout.has_header)]
    starts = [(0, 1)]  # (byte offset of a line start, its line number)
    position, lines, target = 0, 0, range_bytes
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        while chunk := handle.read(_SCAN_CHUNK):
            while target < position + len(chunk):
                newline = chunk.find(b"\n", max(target - position - 1, 0))
                if newline < 0:
                    break  # the line crossing the target ends in a later chunk
                starts.append((position + newline + 1, lines + chunk.count(b"\n", 0, newline + 1) + 1))
                target = position + newline + 1 + range_bytes
            lines += chunk.count(b"\n")
            position += len(chunk)
    starts = [s for s in starts if s[0] < size]
    ends = [s[0] for s in starts[1:]] + [-1]
    return [LineRange(path, start, end, first, token, start == 0 and layout.has_header)
            for (start, first), end in zip(starts, ends)]


def read_range(line_range: LineRange) -> Iterator[tuple[int, bytes]]:
    """Streams (line number, raw bytes) of a range's data lines; a file's first line comes without
    a UTF-8 byte-order mark."""
    compressed = is_gzip(line_range.path)
    with open_raw_file(line_range.path, compressed) as handle, gzip_errors_named(line_range.path, compressed):
        if line_range.start:
            handle.seek(line_range.start)
        position, number = line_range.start, line_range.first_line
        if line_range.skip_header:
            position += len(handle.readline())
            number += 1
        while line_range.end < 0 or position < line_range.end:
            raw = handle.readline()
            if not raw:
                return
            yield number, strip_bom(raw) if position == 0 else raw
            position += len(raw)
            number += 1


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """A file that cannot be read (a truncated gzip, a header naming unknown columns): reported by
    the executor after the Beam job in one line, rather than raised in a Beam worker, whose
    traceback would bury the cause."""
    path: str
    message: str


_UNREADABLE_ERRORS = (CorruptFileError, HeaderError)


def _plan_or_unreadable(path: str, input_format: str) -> list:
    try:
        return plan_ranges(path, input_format)
    except _UNREADABLE_ERRORS as e:
        return [Unreadable(path, str(e))]


class _ReadRangeFn(beam.DoFn):
    """LineRange -> (file, line number, raw bytes, layout token): streamed, never whole. An
    unreadable file goes to the `unreadable` output."""

    def __init__(self):
        self._lines = beam.metrics.Metrics.counter(COUNTER_NAMESPACE, "lines_read")

    def process(self, element):
        if isinstance(element, Unreadable):
            yield beam.pvalue.TaggedOutput(_UNREADABLE, element.message)
            return
        try:
            for number, raw in read_range(element):
                self._lines.inc()
                yield element.path, number, raw, element.layout
        except _UNREADABLE_ERRORS as e:
            yield beam.pvalue.TaggedOutput(_UNREADABLE, str(e))


class _ParseLineFn(beam.DoFn):
    """Raw line -> serialized tf.Example, or a reject record on the `rejects` output.

    Per-bundle counts (rows, positives, rejects by reason) go to the `counts`
    output so the summary is exact on every runner; Beam counters mirror them
    for monitoring.
    """

    def setup(self):
        self._layouts: dict[str, Layout] = {}

    def start_bundle(self):
        self._counts: collections.Counter = collections.Counter()

    def process(self, element):
        path, number, raw, token = element
        layout = self._layouts.get(token)
        if layout is None:
            layout = self._layouts[token] = Layout.from_token(token)
        self._counts["rows"] += 1
        try:
            row = parse_line(decode_line(raw), layout)
        except RowError as e:
            self._counts["rejected." + e.reason.value] += 1
            beam.metrics.Metrics.counter(COUNTER_NAMESPACE, "rejected_" + e.reason.value).inc()
            yield beam.pvalue.TaggedOutput(
                _REJECTS,
                {"file": path, "line": number, "reason": e.reason.value, "detail": e.detail,
                 "raw": printable(raw)},
            )
            return
        self._counts["examples"] += 1
        self._counts["positives"] += row[features.LABEL_KEY]
        yield serialize_row(row)

    def finish_bundle(self):
        if self._counts:
            yield beam.pvalue.TaggedOutput(_COUNTS, GlobalWindows.windowed_value(dict(self._counts)))


def _add_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    total: collections.Counter = collections.Counter()
    for c in counts:
        total.update(c)
    return dict(total)


def _summary(counts: dict[str, int], first_rejects: list[dict[str, Any]], pattern: str,
             unreadable: list[str] = ()) -> str:
    reasons = {k.split(".", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("rejected.")}
    return json.dumps(
        {
            "input_pattern": pattern,
            "rows": counts.get("rows", 0),
            "examples": counts.get("examples", 0),
            "positives": counts.get("positives", 0),
            "rejected": sum(reasons.values()),
            "rejected_by_reason": reasons,
            "first_rejects": sorted(first_rejects, key=lambda r: (r["file"], r["line"])),
            "unreadable": sorted(unreadable),
        },
        sort_keys=True,
    )


def match_input_files(pattern: str) -> list[str]:
    """The files a pattern names, or an error that says what to fix."""
    results = FileSystems.match([pattern])[0].metadata_list
    paths = sorted(m.path for m in results if not os.path.basename(m.path).startswith((".", "_")))
    if not paths:
        raise FileNotFoundError(f"No input file matches {pattern!r}: check the data path (input_base + input_config pattern).")
    return paths


@beam.ptransform_fn
def ReadCriteo(pipeline: beam.Pipeline, pattern: str, input_format: str, rejects_dir: str):
    """Lines of the files matching `pattern` -> serialized tf.Examples.

    Writes rejects (JSON lines) and a summary to `rejects_dir` as a side effect.
    """
    paths = match_input_files(pattern)
    lines = (
        pipeline
        | "ListFiles" >> beam.Create(paths)
        | "PlanRanges" >> beam.FlatMap(_plan_or_unreadable, input_format=input_format)
        # Spreads the ranges (a few elements), not the lines: workers read, parse and write in
        # parallel, and no shuffle holds the data (the DirectRunner keeps a shuffle in memory).
        | "SpreadRanges" >> beam.Reshuffle()
        | "ReadRanges" >> beam.ParDo(_ReadRangeFn()).with_outputs(_UNREADABLE, main="lines")
    )
    unreadable = lines[_UNREADABLE]
    parsed = lines.lines | "ParseLines" >> beam.ParDo(_ParseLineFn()).with_outputs(_REJECTS, _COUNTS, main="examples")
    rejects = parsed[_REJECTS]
    _ = (
        rejects
        | "RejectsToJson" >> beam.Map(json.dumps, sort_keys=True)
        | "WriteRejects" >> beam.io.WriteToText(os.path.join(rejects_dir, REJECTS_PREFIX), file_name_suffix=".jsonl")
    )
    counts = parsed[_COUNTS] | "AddCounts" >> beam.CombineGlobally(_add_counts)
    first = rejects | "FirstRejects" >> beam.combiners.Top.Of(
        NUM_FIRST_REJECTS, key=lambda r: (r["file"], r["line"]), reverse=True
    )
    _ = (
        counts
        | "Summarize" >> beam.Map(_summary, first_rejects=beam.pvalue.AsSingleton(first), pattern=pattern,
                                  unreadable=beam.pvalue.AsList(unreadable))
        | "WriteSummary" >> beam.io.WriteToText(
            os.path.join(rejects_dir, SUMMARY_FILE), num_shards=1, shard_name_template=""
        )
    )
    return parsed.examples


def load_summaries(rejects_uri: str) -> dict[str, Any]:
    """Adds up the summaries of every input split read into `rejects_uri`."""
    total: dict[str, Any] = {"rows": 0, "examples": 0, "positives": 0, "rejected": 0,
                             "rejected_by_reason": {}, "first_rejects": [], "unreadable": []}
    reasons: collections.Counter = collections.Counter()
    for path in sorted(tf.io.gfile.glob(os.path.join(rejects_uri, "*", SUMMARY_FILE))):
        with tf.io.gfile.GFile(path) as f:
            part = json.loads(f.read())
        for key in ("rows", "examples", "positives", "rejected"):
            total[key] += part[key]
        reasons.update(part["rejected_by_reason"])
        total["first_rejects"].extend(part["first_rejects"])
        total["unreadable"].extend(part.get("unreadable", []))
    total["rejected_by_reason"] = dict(sorted(reasons.items()))
    total["first_rejects"] = total["first_rejects"][:NUM_FIRST_REJECTS]
    return total


def rejects_report(summary: dict[str, Any], max_lines: int = NUM_FIRST_REJECTS) -> str:
    """Reason counts and the first rejected lines, for people."""
    lines = [f"{reason}: {count}" for reason, count in summary["rejected_by_reason"].items()]
    for r in summary["first_rejects"][:max_lines]:
        lines.append(f"  {r['file']}:{r['line']}: {r['reason']} ({r['detail']}): {r['raw'][:120]!r}")
    return "\n".join(lines)


def failed_rejects_dir(rejects_uri: str) -> str:
    """Where the rejects of a failed execution are kept: `<component>/rejects-failed/<id>`."""
    component_dir = os.path.dirname(os.path.dirname(rejects_uri.rstrip("/")))
    return os.path.join(component_dir, FAILED_REJECTS_DIR, os.path.basename(rejects_uri.rstrip("/")))


def keep_failed_rejects(rejects_uri: str) -> str:
    """Copies the rejects out of the output artifact, which TFX deletes when
    the execution fails: the rows that made it fail must stay readable."""
    target = failed_rejects_dir(rejects_uri)
    for path in tf.io.gfile.glob(os.path.join(rejects_uri, "*", "*")):
        relative = os.path.relpath(path, rejects_uri)
        tf.io.gfile.makedirs(os.path.dirname(os.path.join(target, relative)))
        tf.io.gfile.copy(path, os.path.join(target, relative), overwrite=True)
    return target


class RejectedRowsError(RuntimeError):
    """Too many rows could not be read: the input is not what the pipeline expects."""


class UnreadableInputError(RuntimeError):
    """An input file cannot be read at all (its messages say which and what to do)."""


class Executor(BaseExampleGenExecutor):
    """Reads raw Criteo logs (TSV, CSV with header, gzip) into tf.Examples."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        executor = self

        @beam.ptransform_fn
        def _ToExamples(pipeline, exec_properties: dict[str, Any], split_pattern: str):
            executor._num_reads += 1
            input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
            rejects_dir = os.path.join(executor._rejects_uri, f"input-{executor._num_reads}")
            return pipeline | ReadCriteo(
                os.path.join(input_base, split_pattern),
                exec_properties.get(spec.INPUT_FORMAT_KEY) or "auto",
                rejects_dir,
            )

        return _ToExamples

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        rejects = artifact_utils.get_single_instance(output_dict[spec.REJECTS_KEY])
        self._rejects_uri = rejects.uri
        self._num_reads = 0
        super().Do(input_dict, output_dict, exec_properties)
        summary = load_summaries(rejects.uri)
        if summary["unreadable"]:
            more = len(summary["unreadable"]) - 1
            raise UnreadableInputError(summary["unreadable"][0] + (f" (and {more} more unreadable files)" if more else ""))
        rejects.set_int_custom_property("rows", summary["rows"])
        rejects.set_int_custom_property("examples", summary["examples"])
        rejects.set_int_custom_property("positives", summary["positives"])
        rejects.set_int_custom_property("rejected", summary["rejected"])
        rejects.set_string_custom_property("rejected_by_reason", json.dumps(summary["rejected_by_reason"]))
        limit = float(exec_properties.get(spec.MAX_REJECT_FRACTION_KEY, spec.DEFAULT_MAX_REJECT_FRACTION))
        fraction = summary["rejected"] / max(summary["rows"], 1)
        logging.info("CriteoExampleGen: %d rows, %d examples, %d rejected", summary["rows"],
                     summary["examples"], summary["rejected"])
        if summary["rejected"]:
            logging.warning("Rejected rows (all in %s):\n%s", rejects.uri, rejects_report(summary))
        if fraction > limit:
            kept = keep_failed_rejects(rejects.uri)
            raise RejectedRowsError(
                f"CriteoExampleGen rejected {summary['rejected']} of {summary['rows']} rows ({fraction:.3%}), more "
                f"than max_reject_fraction={limit:g}: fix the input, or raise --max-reject-fraction if these rows "
                f"may be dropped; every rejected line is in {kept}. By reason and first lines:\n"
                f"{rejects_report(summary)}"
            )
