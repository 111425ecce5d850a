"""Synthetic raw Criteo logs with a hidden ground-truth click model.

Features follow the column profile fitted to real rows (`criteo_profile.json`,
see profile.py). The click probability of a row is

    p = E_eps[ sigmoid(bias + main effects + pairwise crosses + eps) ],  eps ~ N(0, noise^2)

- main effects: one random effect per categorical value (missing included),
  and a smooth random function of each integer's signed log;
- crosses: for each pair in `CROSS_PAIRS`, the dot product of random latent
  vectors of the two values: an interaction a main-effects model cannot
  express, and the kind a cross network (or an FM) is built to find;
- eps: row-level noise the features cannot explain; p integrates it out
  (Gauss-Hermite), so p is the Bayes-optimal prediction from the features;
- bias: solved so that the mean of p on a fixed calibration sample equals the
  requested positive rate.

All random parameters of the click model are hashes of (model seed, column,
value): no tables, any vocabulary size, and the same world for every `seed`
(so train and test sets can come from different seeds). Rows are generated in
fixed chunks seeded by (seed, chunk index): the output does not depend on the
number of shards or worker processes.
"""
from __future__ import annotations

import dataclasses
import gzip
import math
import multiprocessing
import os
import time
from functools import lru_cache
from typing import Any, Optional, TextIO

import numpy as np
from scipy.special import expit, ndtri

from models import features
from synthetic.profile import categorical_ranks, load_profile, signed_exp, signed_log, signed_log_bucket

CHUNK_ROWS = 50_000
MODEL_SEED = 2403_14144
CALIBRATION_ROWS = 100_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()

# Pairs of fields whose interaction drives clicks. Integers enter crosses by
# their signed-log bucket. Most pairs join fields with a heavy head, so the
# interaction is learnable from data; two join a long-tailed field.
CROSS_PAIRS: tuple[tuple[str, str], ...] = (
    ("C1", "C14"), ("C5", "C17"), ("C6", "C23"), ("C8", "C25"), ("C2", "C9"),
    ("C14", "C20"), ("I1", "C5"), ("I7", "C23"), ("I5", "I8"), ("C13", "C6"),
)


@dataclasses.dataclass(frozen=True)
class ClickModel:
    """Scales of the hidden click model (logit units)."""

    categorical_effect: float = 0.2
    integer_effect: float = 0.3
    cross_effect: float = 0.35
    cross_dim: int = 4
    noise: float = 0.8
    cross_pairs: tuple[tuple[str, str], ...] = CROSS_PAIRS
    model_seed: int = MODEL_SEED


# --- hashing -----------------------------------------------------------------

def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: uint64 -> well-mixed uint64."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _hash(*keys) -> np.ndarray:
    """A uint64 hash of keys (ints or int arrays, broadcast together)."""
    h = np.uint64(0)
    with np.errstate(over="ignore"):
        for key in keys:
            h = _mix(np.asarray(h, dtype=np.uint64) * _GOLDEN + np.asarray(key).astype(np.uint64))
    return np.asarray(h, dtype=np.uint64)


def _hash_normal(*keys) -> np.ndarray:
    """Standard normal values, a deterministic function of the keys."""
    u = (_hash(*keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def hex_ids(column: int, ranks: np.ndarray, model_seed: int) -> np.ndarray:
    """Value ranks -> 8-hex-digit bytes like Criteo's hashed categoricals."""
    h = (_hash(model_seed, 7_000 + column, ranks) >> np.uint64(32)).astype(np.uint32)
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    digits = _HEX[(h[:, None] >> shifts) & np.uint32(0xF)]
    return np.ascontiguousarray(digits).view("S8").ravel()


# --- sampling features -------------------------------------------------------

def _column_index(name: str) -> int:
    return features.FEATURE_KEYS.index(name)


def sample_features(profile: dict[str, Any], rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Integers as float64 (NaN = missing) and categoricals as int64 ranks (0 = missing)."""
    columns: dict[str, np.ndarray] = {}
    for name in features.INTEGER_FEATURE_KEYS:
        spec = profile["integer"][name]
        quantiles = np.asarray(spec["signed_log_quantiles"])
        t = np.interp(rng.random(n) * (len(quantiles) - 1), np.arange(len(quantiles)), quantiles)
        values = np.round(signed_exp(t))
        values[rng.random(n) < spec["missing"]] = np.nan
        columns[name] = values
    for name in features.CATEGORICAL_FEATURE_KEYS:
        spec = profile["categorical"][name]
        ranks = categorical_ranks(rng, n, spec)
        ranks[rng.random(n) < spec["missing"]] = 0
        columns[name] = ranks
    return columns


def _value_keys(name: str, column: np.ndarray) -> np.ndarray:
    """An int key per value: the rank for categoricals, the signed-log bucket
    for integers (missing -> a key of its own)."""
    if name in features.CATEGORICAL_FEATURE_KEYS:
        return column
    return np.where(np.isnan(column), 0, signed_log_bucket(np.nan_to_num(column)) + 1_000).astype(np.int64)


def feature_score(columns: dict[str, np.ndarray], model: ClickModel, profile: dict[str, Any]) -> np.ndarray:
    """The logit of each row without bias and noise."""
    n = len(next(iter(columns.values())))
    score = np.zeros(n)
    seed = model.model_seed
    for name in features.CATEGORICAL_FEATURE_KEYS:
        score += model.categorical_effect * _hash_normal(seed, 1, _column_index(name), columns[name])
    for name in features.INTEGER_FEATURE_KEYS:
        col = _column_index(name)
        quantiles = profile["integer"][name]["signed_log_quantiles"]
        centre, spread = quantiles[len(quantiles) // 2], max(quantiles[-1] - quantiles[0], 1.0) / 4
        slope = _hash_normal(seed, 2, col)
        x = columns[name]
        t = signed_log(np.nan_to_num(x))
        effect = slope * np.tanh((t - centre) / spread)
        missing_effect = _hash_normal(seed, 3, col)
        score += model.integer_effect * np.where(np.isnan(x), missing_effect, effect)
    for pair_index, (a, b) in enumerate(model.cross_pairs):
        key_a, key_b = _value_keys(a, columns[a]), _value_keys(b, columns[b])
        dims = np.arange(model.cross_dim)[None, :]
        u = _hash_normal(seed, 4, pair_index, 0, key_a[:, None], dims)
        v = _hash_normal(seed, 4, pair_index, 1, key_b[:, None], dims)
        score += model.cross_effect * np.sum(u * v, axis=1) / math.sqrt(model.cross_dim)
    return score


def click_probability(score: np.ndarray, bias: float, noise: float) -> np.ndarray:
    """E_eps[sigmoid(bias + score + eps)], eps ~ N(0, noise^2), by Gauss-Hermite."""
    logits = (bias + score)[:, None] + noise * _GH_NODES[None, :]
    return expit(logits) @ _GH_WEIGHTS


@lru_cache(maxsize=16)
def calibrated_bias(positive_rate: float, model: ClickModel = ClickModel()) -> float:
    """The bias whose mean click probability on the calibration sample is `positive_rate`."""
    if not 0.0 < positive_rate < 1.0:
        raise ValueError(f"--positive-rate must be in (0, 1), got {positive_rate}")
    profile = load_profile()
    rng = np.random.default_rng([model.model_seed, 99])
    score = feature_score(sample_features(profile, rng, CALIBRATION_ROWS), model, profile)
    lo, hi = -40.0, 40.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if click_probability(score, mid, model.noise).mean() < positive_rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def generate_chunk(seed: int, chunk: int, n: int, bias: float, model: ClickModel = ClickModel()):
    """Columns, true click probabilities and labels of one chunk of rows."""
    profile = load_profile_cached()
    rng = np.random.default_rng([seed, chunk])
    columns = sample_features(profile, rng, n)
    p = click_probability(feature_score(columns, model, profile), bias, model.noise)
    labels = (rng.random(n) < p).astype(np.int64)
    return columns, p, labels


@lru_cache(maxsize=1)
def load_profile_cached() -> dict[str, Any]:
    return load_profile()


# --- formatting --------------------------------------------------------------

def format_tsv(columns: dict[str, np.ndarray], labels: np.ndarray, model_seed: int = MODEL_SEED) -> bytes:
    """Raw Criteo TSV lines (label, I1..I13, C1..C26; empty = missing)."""
    fields = [labels.astype("S1").tolist()]
    for name in features.INTEGER_FEATURE_KEYS:
        x = columns[name]
        text = np.nan_to_num(x).astype(np.int64).astype("S20")
        text[np.isnan(x)] = b""
        fields.append(text.tolist())
    for name in features.CATEGORICAL_FEATURE_KEYS:
        ranks = columns[name]
        text = hex_ids(_column_index(name), ranks, model_seed).astype("S8")
        text[ranks == 0] = b""
        fields.append(text.tolist())
    return b"".join(b"\t".join(row) + b"\n" for row in zip(*fields))


def format_truth(p: np.ndarray) -> bytes:
    return b"".join(b"%.9g\n" % x for x in p.tolist())


# --- writing -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Task:
    shard: int
    chunk: int
    lo: int  # row offsets inside the chunk
    hi: int


def _plan(rows: int, shards: int) -> list[_Task]:
    """Pieces of chunks, in output order; shard s holds rows [s*N/K, (s+1)*N/K)."""
    tasks = []
    for shard in range(shards):
        start, end = rows * shard // shards, rows * (shard + 1) // shards
        row = start
        while row < end:
            chunk = row // CHUNK_ROWS
            stop = min(end, (chunk + 1) * CHUNK_ROWS)
            tasks.append(_Task(shard, chunk, row - chunk * CHUNK_ROWS, stop - chunk * CHUNK_ROWS))
            row = stop
    return tasks


def _run_task(args) -> tuple[int, bytes, bytes, int, int]:
    task, seed, rows, bias, with_truth, gzip_output = args
    chunk_rows = min(CHUNK_ROWS, rows - task.chunk * CHUNK_ROWS)
    columns, p, labels = generate_chunk(seed, task.chunk, chunk_rows, bias)
    piece = slice(task.lo, task.hi)
    data = format_tsv({k: v[piece] for k, v in columns.items()}, labels[piece])
    truth = format_truth(p[piece]) if with_truth else b""
    if gzip_output:
        data = gzip.compress(data, compresslevel=6)
        truth = gzip.compress(truth, compresslevel=6) if with_truth else b""
    return task.shard, data, truth, task.hi - task.lo, int(labels[piece].sum())


def output_paths(out: str, shards: int, gzip_output: bool) -> list[tuple[str, str]]:
    """(data path, truth path) per shard. Truth files start with `_`, which
    ingestion skips, so a directory of shards can be read as it is."""
    suffix = ".tsv.gz" if gzip_output else ""
    if shards == 1:
        directory, name = os.path.split(os.path.abspath(out))
        return [(os.path.join(directory, name), os.path.join(directory, f"_{name}.truth"))]
    names = [f"part-{s:05d}-of-{shards:05d}{suffix or '.tsv'}" for s in range(shards)]
    return [(os.path.join(out, n), os.path.join(out, f"_{n}.truth")) for n in names]


def _partial_name(path: str) -> str:
    """A hidden sibling of `path` (ExampleGen skips names starting with "." or "_")."""
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial-{os.getpid()}")


def generate_to_path(
    rows: int,
    positive_rate: float,
    seed: int,
    out: str,
    shards: int = 1,
    gzip_output: bool = False,
    with_truth: bool = False,
    workers: int = 0,
    progress: Optional[TextIO] = None,
) -> dict[str, Any]:
    """Writes `rows` synthetic rows; returns what was written."""
    if rows < 1 or shards < 1 or shards > rows:
        raise ValueError(f"need rows >= shards >= 1, got rows={rows}, shards={shards}")
    bias = calibrated_bias(positive_rate)
    paths = output_paths(out, shards, gzip_output)
    os.makedirs(os.path.dirname(paths[0][0]), exist_ok=True)
    workers = workers or os.cpu_count() or 1
    # Written under temporary names and renamed once complete: an interrupted
    # run leaves no file that a later run would take for a finished one.
    final = [p for p, _ in paths] + ([t for _, t in paths] if with_truth else [])
    partial = {path: _partial_name(path) for path in final}
    data_files = [open(partial[p], "wb") for p, _ in paths]
    truth_files = [open(partial[t], "wb") for _, t in paths] if with_truth else []
    completed = False
    written = positives = 0
    started = last_report = time.monotonic()
    jobs = [(task, seed, rows, bias, with_truth, gzip_output) for task in _plan(rows, shards)]
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        results = pool.imap(_run_task, jobs) if pool else map(_run_task, jobs)
        for shard, data, truth, n, pos in results:
            data_files[shard].write(data)
            if with_truth:
                truth_files[shard].write(truth)
            written += n
            positives += pos
            if progress and time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                rate = written / (last_report - started)
                print(f"generated {written:,}/{rows:,} rows ({rate:,.0f} rows/s)", file=progress, flush=True)
        completed = True
    finally:
        if pool:
            pool.terminate()
        for f in data_files + truth_files:
            f.close()
        for path, temporary in partial.items():
            if completed:
                os.replace(temporary, path)
            elif os.path.exists(temporary):
                os.remove(temporary)
    seconds = time.monotonic() - started
    return {
        "rows": written,
        "positives": positives,
        "positive_rate": positives / written,
        "requested_positive_rate": positive_rate,
        "seed": seed,
        "files": [p for p, _ in paths],
        "truth_files": [t for _, t in paths] if with_truth else [],
        "seconds": round(seconds, 2),
        "rows_per_second": round(written / max(seconds, 1e-9)),
    }


def read_truth(path: str) -> np.ndarray:
    """A truth file's probabilities (gzip or plain)."""
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        return np.array([float(x) for x in f.read().split()])



SPLIT_SHARES = {"train": 0.8, "eval": 0.1, "test": 0.1}


def split_paths(directory: str) -> dict[str, tuple[str, str]]:
    """(rows, truth) file of each split in a `generate_splits` directory."""
    return {split: (os.path.join(directory, split, f"{split}.tsv"), os.path.join(directory, split, f"_{split}.tsv.truth"))
            for split in SPLIT_SHARES}


def generate_splits(directory: str, rows: int, positive_rate: float, seed: int = 0,
                    progress: Optional[TextIO] = None) -> dict[str, tuple[str, str]]:
    """`directory/{train,eval,test}/` with rows and true probabilities, 80/10/10 of `rows`, each split
    its own draw (row seeds 3*seed, 3*seed+1, 3*seed+2) of the same hidden click model. The pipeline
    keeps these splits (PipelineConfig.presplit_names). Written under a temporary name and renamed when
    complete, so an interrupted run never leaves a partial dataset that a later run would take."""
    paths = split_paths(directory)
    if os.path.isdir(directory):
        return paths
    partial = f"{directory.rstrip('/')}.partial"
    for index, (split, share) in enumerate(SPLIT_SHARES.items()):
        generate_to_path(int(rows * share), positive_rate, 3 * seed + index,
                         os.path.join(partial, split, f"{split}.tsv"), with_truth=True, progress=progress)
    os.replace(partial, directory)
    return paths
