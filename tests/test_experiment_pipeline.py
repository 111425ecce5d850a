"""`sparsectr experiment` end to end: a tiny grid (BCE and Combined-Pair x 2 seeds
on small generated data) through the real pipeline, its table against the
served model and ML Metadata, its statistics against scipy, and resuming."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os

import numpy as np
import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from scipy import stats
from sklearn.metrics import roc_auc_score
from tfx import v1 as tfx
from tfx.utils import path_utils

from benchmarks.baselines import labels
from models.criteo_rows import read_rows
from models.run_files import ASSETS_EXTRA, CONFIG_FILE
from sparsectr.cli import main
from sparsectr.experiment import CELLS_DIR, dataset_name
from sparsectr.serving import predict_probabilities
from synthetic import generator

pytestmark = pytest.mark.slow

ROWS = 3000
ARGS = ["--rows", str(ROWS), "--losses", "bce,combined_pair", "--seeds", "0,1", "--batch-size", "256",
        "--epochs", "1", "--beam-args=--direct_running_mode=in_memory", "--diagnostics"]
DATASET = f"generated-{ROWS}-0.25-seed0"


def _experiment(out: str, *extra: str) -> tuple[int, str, str]:
    err, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
        code = main(["experiment", "--out", out, *ARGS, *extra])
    return code, stdout.getvalue(), err.getvalue()


def _store(out: str) -> metadata_store.MetadataStore:
    path = os.path.join(out, "runs", DATASET, "metadata.db")
    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(path))


def _table(out: str) -> list[dict[str, str]]:
    with open(os.path.join(out, "results.csv")) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("experiment") / "exp")
    code, text, progress = _experiment(out)
    assert code == 0, progress
    return out, text, progress


def test_one_progress_line_per_cell_and_a_table_row_per_cell(experiment):
    out, text, progress = experiment
    lines = [line for line in progress.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert all("elapsed" in line and "ETA" in line for line in lines)
    rows = _table(out)
    assert sorted((r["loss"], r["seed"]) for r in rows) == [("bce", "0"), ("bce", "1"), ("combined_pair", "0"),
                                                            ("combined_pair", "1")]
    for r in rows:
        for column in ("auc", "weighted_logloss", "logloss", "calibration", "expected_auc", "excess_logloss",
                       "train_weighted_logloss", "negative_gradient", "best_epoch", "train_seconds"):
            assert np.isfinite(float(r[column])), (column, r)
        assert 0.5 < float(r["auc"]) < 1
        assert any(k.startswith("auc [") and r[k] for k in r), "per-bucket AUC columns"
    assert "| 0.1 | combined_pair | default | expected_auc | RQ3/RQ4: higher AUC | 2 |" in text


def test_each_cell_is_a_trainer_and_evaluator_execution_in_ml_metadata(experiment):
    out, _, _ = experiment
    store = _store(out)
    for cell in json.load(open(os.path.join(out, "results.json"))):
        trainer, evaluator = store.get_executions_by_id([cell["trainer_execution"], cell["evaluator_execution"]])
        assert trainer.type.endswith("Trainer") and evaluator.type.endswith("Evaluator")
        assert trainer.last_known_state == metadata_store_pb2.Execution.COMPLETE
        config = json.loads(trainer.custom_properties["custom_config"].string_value)["model"]
        assert (config["loss"], config["seed"], config["beta"]) == (cell["loss"], cell["seed"], 0.1)
        with open(os.path.join(path_utils.serving_model_path(cell["model_uri"]), ASSETS_EXTRA, CONFIG_FILE)) as f:
            recorded = json.load(f)
        # No --alphas: each loss trains with its tuned default, recorded in the served model.
        assert recorded["alpha"] == {"bce": 1.0, "combined_pair": 0.7}[cell["loss"]] == cell["alpha_effective"]


def _expected_weighted_logloss(true_p: np.ndarray, q: np.ndarray, beta: float) -> float:
    """The beta-weighted logloss of predictions q, in expectation over labels drawn from true_p."""
    loss = beta * true_p * -np.log(q) + (1 - true_p) * -np.log(1 - q)
    return float(loss.sum() / (beta * true_p + 1 - true_p).sum())


def test_the_table_scores_the_test_split_the_served_model_sees(experiment):
    """The cell's AUC (TFMA) equals scikit-learn on the pushed signature's predictions of the test rows;
    its excess logloss is the expected weighted logloss of those predictions minus that of the best
    predictor (beta p / (beta p + 1 - p)), computed here as cross-entropies."""
    out, _, _ = experiment
    rows_file, truth_file = generator.split_paths(os.path.join(out, "data", DATASET))["test"]
    rows = read_rows(rows_file)
    true_p = np.asarray(generator.read_truth(truth_file), np.float64)
    for cell in json.load(open(os.path.join(out, "results.json"))):
        predicted = predict_probabilities(path_utils.serving_model_path(cell["model_uri"]), rows)
        assert cell["auc"] == pytest.approx(roc_auc_score(labels(rows), predicted), abs=1e-4)
        assert cell["test_examples"] == len(rows) == len(true_p)
        beta = cell["beta"]
        best = beta * true_p / (beta * true_p + 1 - true_p)
        excess = (_expected_weighted_logloss(true_p, np.asarray(predicted, np.float64), beta)
                  - _expected_weighted_logloss(true_p, best, beta))
        assert cell["excess_logloss"] == pytest.approx(excess, rel=1e-6, abs=1e-9)


def test_statistics_agree_with_scipy(experiment):
    out, _, _ = experiment
    rows = _table(out)
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["verdict_metrics"] == ["expected_auc", "excess_logloss"]
    for metric in ("auc", "weighted_logloss", "expected_auc", "excess_logloss"):
        by = {(r["loss"], int(r["seed"])): float(r[metric]) for r in rows}
        pair = np.array([by[("combined_pair", s)] for s in (0, 1)])
        bce = np.array([by[("bce", s)] for s in (0, 1)])
        [row] = [c for c in summary["comparisons"] if c["metric"] == metric]
        d = pair - bce
        assert row["diff_mean"] == pytest.approx(d.mean(), rel=1e-9)
        assert row["t_p"] == pytest.approx(stats.ttest_rel(pair, bce).pvalue, rel=1e-9)
        assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-9)
        low, high = stats.t.interval(0.95, 1, loc=d.mean(), scale=stats.sem(d))
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))


def test_plots_are_written(experiment):
    out, _, _ = experiment
    for name in ("metrics_by_beta.png", "paired_differences.png",
                 f"gradients_{DATASET}_beta0.1/combined_pair/logit_gradients.png"):
        assert os.path.getsize(os.path.join(out, "plots", name)) > 10_000, name


def test_a_rerun_skips_finished_cells_and_a_lost_cell_is_redone_from_the_cache(experiment):
    out, _, _ = experiment
    executions = len(_store(out).get_executions())
    cells_dir = os.path.join(out, CELLS_DIR)
    mtimes = {n: os.path.getmtime(os.path.join(cells_dir, n)) for n in os.listdir(cells_dir)}
    code, _, progress = _experiment(out)
    assert code == 0 and "4 cells, 4 finished earlier, 0 to run" in progress
    assert len(_store(out).get_executions()) == executions  # nothing ran
    assert {n: os.path.getmtime(os.path.join(cells_dir, n)) for n in os.listdir(cells_dir)} == mtimes

    # A run killed in a cell loses that cell only: its result file is missing, and the re-run finds the
    # cell's Trainer and Evaluator executions in the cache.
    [lost] = [n for n in mtimes if "combined_pair" in n and "seed1" in n]
    before = json.load(open(os.path.join(cells_dir, lost)))
    os.remove(os.path.join(cells_dir, lost))
    code, _, progress = _experiment(out)
    assert code == 0 and "4 cells, 3 finished earlier, 1 to run" in progress
    again = json.load(open(os.path.join(cells_dir, lost)))
    assert again["model_uri"] == before["model_uri"] and again["auc"] == before["auc"]
    assert again["expected_auc"] == before["expected_auc"]
    new = [e for e in _store(out).get_executions()[executions:] if e.type.endswith(("Trainer", "Evaluator"))]
    assert new and all(e.last_known_state == metadata_store_pb2.Execution.CACHED for e in new)
    assert dataset_name(before["dataset"]) == DATASET
