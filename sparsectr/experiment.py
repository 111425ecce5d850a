"""`sparsectr experiment`: a grid of losses x beta x alpha x seeds through the real pipeline.

Each dataset (generated at a size and positive rate, or a user's Criteo files)
gets one pipeline root and ML Metadata store under `OUT/runs/<dataset>/`.
Every cell runs pipeline.create_experiment_pipeline there: the TFX cache runs
ExampleGen and StatisticsGen once per dataset and Transform once per beta
(the example weight is a Transform output), so a cell costs a Trainer and an
Evaluator execution, both recorded in that store.

A finished cell is written to `OUT/cells/<key>.json` (atomically) and skipped
by any later run with the same settings, so a killed run loses only the cell
in flight and a grid can be extended (more seeds, losses, betas) in place.
Each cell records the code it ran on (`code_version`: the git commit and any
uncommitted change to the code folders), and `--after-cell COMMAND` runs a
shell command after each one (scripts/run_experiments.sh commits the cell).
On generated data each cell is also scored against the true probabilities
(synthetic/truth_metrics.py) on the test split.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import os
import subprocess
import time
from typing import Any, Optional, TextIO

import numpy as np

from models.hparams import AUXILIARY_LOSSES, ModelConfig
from pipeline.config import PipelineConfig

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The folders whose code decides a cell's numbers.
CODE_DIRS = ("models", "synthetic", "evaluation", "components", "pipeline", "sparsectr")
CELLS_DIR = "cells"
SETTINGS_FILE = "experiment.json"
LOGS_DIR = "logs"
PIPELINE_NAME = "sparsectr-experiment"
GENERATED_PREFIX = "generated:"


@dataclasses.dataclass
class Grid:
    """What to run: the axes, the datasets and the settings every cell shares."""
    losses: tuple[str, ...] = ("bce", "combined_pair")
    betas: tuple[float, ...] = (0.1,)
    alphas: tuple[Optional[float], ...] = (None,)  # None: each loss's tuned default (models/hparams.py)
    seeds: tuple[int, ...] = (0, 1, 2)
    # User data (files, directories or globs, as `sparsectr run --data`); empty: generated data.
    data: tuple[str, ...] = ()
    rows: int = 100_000  # generated rows per dataset (80/10/10 train/eval/test)
    positive_rates: tuple[float, ...] = (0.25,)
    data_seed: int = 0
    # ModelConfig settings of every cell (the axes above override loss, beta, alpha, seed).
    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    beam_args: tuple[str, ...] = ()  # empty: pipeline/config.py's local DirectRunner defaults

    def __post_init__(self):
        self.losses, self.betas, self.seeds = tuple(self.losses), tuple(map(float, self.betas)), tuple(map(int, self.seeds))
        self.alphas = tuple(None if a in (None, "default") else float(a) for a in self.alphas)
        self.data, self.positive_rates = tuple(self.data), tuple(map(float, self.positive_rates))
        self.beam_args = tuple(self.beam_args)
        fixed = {"loss", "beta", "alpha", "seed"} & set(self.model)
        if fixed:
            raise ValueError(f"model: {sorted(fixed)} are grid axes (losses, betas, alphas, seeds), not model settings")
        ModelConfig.from_dict(self.model)  # unknown or invalid settings fail before anything runs
        for loss in self.losses:
            ModelConfig(loss=loss)
        if not (self.losses and self.betas and self.alphas and self.seeds):
            raise ValueError("the grid needs at least one loss, beta, alpha and seed")

    @classmethod
    def from_file(cls, path: str, **overrides) -> "Grid":
        """A grid from a YAML or JSON file whose keys are this class's fields."""
        import yaml

        with open(path) as f:
            spec = yaml.safe_load(f) or {}
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: expected a mapping of grid settings, got {type(spec).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"{path}: unknown grid settings {unknown}; known: {sorted(known)}")
        return cls(**{**spec, **overrides})

    def datasets(self) -> list[str]:
        """Dataset specs: the user's paths, or `generated:<rows>:<rate>:<seed>`."""
        if self.data:
            return list(self.data)
        return [f"{GENERATED_PREFIX}{self.rows}:{rate:g}:{self.data_seed}" for rate in self.positive_rates]

    def cells(self) -> list[dict[str, Any]]:
        """Every (dataset, beta, loss, alpha, seed), in run order: dataset, beta, seed, loss. A loss without an
        auxiliary term (bce, focal) has no alpha, so it gets one cell whatever the alphas."""
        out = []
        for dataset in self.datasets():
            for beta in self.betas:
                for seed in self.seeds:
                    for loss in self.losses:
                        alphas = self.alphas if loss in AUXILIARY_LOSSES else (None,)
                        for alpha in dict.fromkeys(alphas):
                            out.append({"dataset": dataset, "beta": beta, "loss": loss, "alpha": alpha,
                                        "seed": seed})
        return out

    def shared_settings(self) -> dict[str, Any]:
        """What every cell of the experiment directory must share (the axes may grow)."""
        return {"model": self.model, "rows": self.rows, "data_seed": self.data_seed, "beam_args": list(self.beam_args)}


def _generated(spec: str) -> Optional[tuple[str, str, str]]:
    """(rows, positive rate, seed) of a `generated:` spec, as written; None for user data."""
    return tuple(spec[len(GENERATED_PREFIX):].split(":")) if spec.startswith(GENERATED_PREFIX) else None


def dataset_name(spec: str) -> str:
    """A directory name for a dataset spec."""
    if _generated(spec):
        rows, rate, seed = _generated(spec)
        return f"generated-{rows}-{rate}-seed{seed}"
    stem = os.path.basename(os.path.normpath(spec)).split(".")[0] or "data"
    path = os.path.abspath(spec)
    if os.path.commonpath([path, PROJECT]) == PROJECT:  # the same name in any checkout of the project
        path = os.path.relpath(path, PROJECT)
    return f"{stem}-{hashlib.sha1(path.encode()).hexdigest()[:6]}"


def prepare_dataset(spec: str, out_dir: str, progress: Optional[TextIO] = None
                    ) -> tuple[str, Optional[tuple[str, str]]]:
    """(data path for the pipeline, (test rows, their true probabilities) or None). Generated data is
    written once, as train/eval/test splits with their true probabilities."""
    if not _generated(spec):
        return spec, None
    from synthetic import generator

    rows, rate, seed = _generated(spec)
    directory = os.path.join(out_dir, "data", dataset_name(spec))
    paths = generator.generate_splits(directory, int(rows), float(rate), int(seed), progress=progress)
    return directory, paths["test"]


# Cells compare the losses' own predictions: no post-hoc calibration unless the grid asks for one
# (it would hide the logloss differences the research questions are about).
CELL_DEFAULTS = {"calibration": "none"}


def cell_model(grid: Grid, cell: dict[str, Any]) -> ModelConfig:
    return ModelConfig(**{**CELL_DEFAULTS, **grid.model, "loss": cell["loss"], "beta": cell["beta"],
                          "alpha": cell["alpha"], "seed": cell["seed"]})


def cell_key(grid: Grid, cell: dict[str, Any]) -> str:
    """A file name naming the cell and hashing everything that trained it."""
    settings = {"dataset": cell["dataset"], "model": cell_model(grid, cell).to_dict(), **grid.shared_settings()}
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    alpha = "default" if cell["alpha"] is None else f"{cell['alpha']:g}"
    return (f"{dataset_name(cell['dataset'])}__beta{cell['beta']:g}__{cell['loss']}__alpha{alpha}"
            f"__seed{cell['seed']}__{digest}")


def code_version(project: str = PROJECT) -> dict[str, Any]:
    """The git commit of `project` and its uncommitted changes under CODE_DIRS; {} when it is not a git
    checkout (an installed package) or git is missing."""
    try:
        git = ["git", "-C", project]
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
        status = subprocess.run([*git, "status", "--porcelain", "--", *CODE_DIRS], capture_output=True, text=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit.strip(), "uncommitted": sorted(line[3:] for line in status.splitlines())}


def _write_json_atomically(path: str, payload: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def check_settings(out_dir: str, grid: Grid) -> None:
    """Records the shared settings in OUT/experiment.json; refuses a directory made with other ones."""
    os.makedirs(os.path.join(out_dir, CELLS_DIR), exist_ok=True)
    path = os.path.join(out_dir, SETTINGS_FILE)
    settings = grid.shared_settings()
    if os.path.exists(path):
        with open(path) as f:
            recorded = json.load(f)
        if recorded != json.loads(json.dumps(settings)):
            raise ValueError(f"{path}: this directory holds an experiment with other shared settings "
                             f"({recorded}); use another --out, or the same model settings, rows and beam args")
    else:
        _write_json_atomically(path, settings)


def load_cells(out_dir: str) -> list[dict[str, Any]]:
    """Every finished cell of an experiment directory."""
    cells = []
    for path in sorted(glob.glob(os.path.join(out_dir, CELLS_DIR, "*.json"))):
        with open(path) as f:
            cells.append(json.load(f))
    return cells


# ---- one cell ---------------------------------------------------------------------------------------

def _history_metrics(model_run_dir: str, monitor: str) -> dict[str, Any]:
    """Best epoch (early stopping on the validation `monitor`), epochs run, the training weighted logloss at that
    epoch (Finding 2), and, with --diagnostics, the mean |dL/dz| over negatives of all batches (Finding 4)."""
    from models.diagnostics import BATCHES_FILE
    from models.trainer import DIAGNOSTICS_DIR, HISTORY_FILE, best_epoch

    with open(os.path.join(model_run_dir, HISTORY_FILE)) as f:
        history = json.load(f)
    best = best_epoch(history, monitor)
    out = {"epochs": len(history["loss"]), "best_epoch": best + 1,
           "train_weighted_logloss": history["weighted_logloss"][best],
           "val_auc": history["val_auc"][best], "val_weighted_logloss": history["val_weighted_logloss"][best]}
    batches = os.path.join(model_run_dir, DIAGNOSTICS_DIR, BATCHES_FILE)
    if os.path.exists(batches):
        grads = np.genfromtxt(batches, delimiter=",", names=True)["mean_abs_grad_negatives"]
        out["negative_gradient"] = float(np.mean(grads))
        out["diagnostics_dir"] = os.path.dirname(batches)
    return out


def _evaluation_metrics(evaluation_uri: str, boundaries) -> dict[str, Any]:
    from evaluation.results import OVERALL, WEIGHTED_LOGLOSS, bucket_slice, slice_metrics
    from models.sparsity import bucket_names

    slices = slice_metrics(evaluation_uri)
    overall = slices.get(OVERALL, {})
    buckets = {}
    for index, name in enumerate(bucket_names(boundaries)):
        m = slices.get(bucket_slice(index), {})
        if "auc" in m:
            buckets[name] = {"auc": m["auc"], "examples": m.get("example_count", 0.0)}
    return {"auc": overall.get("auc"), "auc_standard_error": overall.get("auc_standard_error"),
            "weighted_logloss": overall.get(WEIGHTED_LOGLOSS),
            "logloss": overall.get("binary_crossentropy"), "calibration": overall.get("calibration"),
            "test_examples": overall.get("example_count"), "bucket_auc": buckets}


def _truth_scores(model_dir: str, test_rows: str, truth_file: str, beta: float) -> dict[str, float]:
    from models.criteo_rows import read_rows
    from sparsectr.serving import predict_probabilities
    from synthetic.generator import read_truth
    from synthetic.truth_metrics import truth_metrics

    true_p = read_truth(truth_file)
    predicted = predict_probabilities(model_dir, read_rows(test_rows))
    if len(true_p) != len(predicted):
        raise ValueError(f"{truth_file}: {len(true_p)} probabilities for {len(predicted)} test rows")
    return truth_metrics(true_p, predicted, beta)


def run_cell(grid: Grid, cell: dict[str, Any], data: str, truth: Optional[tuple[str, str]], out_dir: str,
             log: TextIO) -> dict[str, Any]:
    """Runs one cell's pipeline and returns its result row."""
    from pipeline.config import LOCAL_BEAM_ARGS
    from pipeline.pipeline import create_experiment_pipeline
    from pipeline.run_result import execution_mark, open_store, read_run
    from sparsectr.progress import component_progress
    from sparsectr.run import run_pipeline

    model = cell_model(grid, cell)
    config = PipelineConfig(data=data, output_dir=os.path.join(out_dir, "runs", dataset_name(cell["dataset"])),
                            pipeline_name=PIPELINE_NAME, model=model,
                            beam_pipeline_args=grid.beam_args or LOCAL_BEAM_ARGS)
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    started = time.monotonic()
    with contextlib.redirect_stdout(log), component_progress(out=log):
        run_pipeline(config, factory=create_experiment_pipeline)
    run = read_run(store, mark, config.pipeline_root)
    outputs = run.outputs
    result = {**cell, "alpha_effective": model.effective_alpha, "split": config.evaluation_split(),
              "model_config": run.trained_config(), "trainer_execution": outputs.executions["Trainer"].id,
              "evaluator_execution": outputs.executions["Evaluator"].id,
              "model_uri": run.model_dir, "evaluation_uri": run.evaluation_dir,
              "train_seconds": outputs.producer_seconds("Trainer", "model"),
              "evaluate_seconds": outputs.producer_seconds("Evaluator", "evaluation"),
              "cell_seconds": time.monotonic() - started}
    result.update(_history_metrics(run.model_run_dir, model.monitor))
    result.update(_evaluation_metrics(run.evaluation_dir, model.sparsity_boundaries))
    if truth:
        result.update(_truth_scores(run.serving_model_dir, *truth, cell["beta"]))
    return result


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def describe_cell(cell: dict[str, Any]) -> str:
    alpha = "default" if cell["alpha"] is None else f"{cell['alpha']:g}"
    return (f"{dataset_name(cell['dataset'])} beta {cell['beta']:g} {cell['loss']} alpha {alpha} "
            f"seed {cell['seed']}")


def _after_cell(command: Optional[str], cell_path: str, progress: TextIO) -> None:
    """Runs `command` in a shell with SPARSECTR_CELL set to the finished cell's file; a failure is reported,
    not raised (the cell is kept, and the next cell's command can pick it up)."""
    if not command:
        return
    done = subprocess.run(command, shell=True, env={**os.environ, "SPARSECTR_CELL": cell_path},
                          capture_output=True, text=True)
    if done.returncode:
        print(f"--after-cell command failed (exit {done.returncode}) after {cell_path}: "
              f"{(done.stderr or done.stdout).strip()[-500:]}", file=progress, flush=True)


def run_grid(grid: Grid, out_dir: str, progress: TextIO, after_cell: Optional[str] = None) -> list[dict[str, Any]]:
    """Runs every cell not finished yet; returns the grid's cells (finished earlier or now)."""
    check_settings(out_dir, grid)
    code = code_version()
    cells = grid.cells()
    keys = [cell_key(grid, c) for c in cells]
    paths = [os.path.join(out_dir, CELLS_DIR, f"{k}.json") for k in keys]
    todo = [i for i, p in enumerate(paths) if not os.path.exists(p)]
    print(f"experiment {out_dir}: {len(cells)} cells, {len(cells) - len(todo)} finished earlier, {len(todo)} to run",
          file=progress, flush=True)
    datasets: dict[str, tuple[str, Optional[tuple[str, str]]]] = {}
    os.makedirs(os.path.join(out_dir, LOGS_DIR), exist_ok=True)
    started = time.monotonic()
    for done, index in enumerate(todo, 1):
        cell = cells[index]
        if cell["dataset"] not in datasets:
            datasets[cell["dataset"]] = prepare_dataset(cell["dataset"], out_dir, progress)
        data, truth = datasets[cell["dataset"]]
        with open(os.path.join(out_dir, LOGS_DIR, f"{keys[index]}.log"), "w") as log:
            try:
                result = run_cell(grid, cell, data, truth, out_dir, log)
            except Exception as e:
                raise RuntimeError(f"cell {describe_cell(cell)} failed ({type(e).__name__}: {e}); its log: "
                                   f"{log.name}; finished cells are kept, re-run the same command to resume") from e
        _write_json_atomically(paths[index], {**result, "code": code})
        _after_cell(after_cell, paths[index], progress)
        elapsed = time.monotonic() - started
        eta = elapsed / done * (len(todo) - done)
        truth_part = (f", expected AUC {result['expected_auc']:.4f}, excess logloss {result['excess_logloss']:.5f}"
                      if "expected_auc" in result else "")
        print(f"[{done}/{len(todo)}] {describe_cell(cell)}: AUC {result['auc']:.4f}, weighted logloss "
              f"{result['weighted_logloss']:.5f}{truth_part}, best epoch {result['best_epoch']}/{result['epochs']} "
              f"({_duration(result['cell_seconds'])}); elapsed {_duration(elapsed)}, ETA {_duration(eta)}",
              file=progress, flush=True)
    finished = []
    for path in paths:
        with open(path) as f:
            finished.append(json.load(f))
    return finished

