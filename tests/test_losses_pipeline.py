"""Every output head through the real pipeline (LocalDagRunner) on generated
sparse data: 3% clicks, beta 0.1, the default DCN-V2, one epoch, gradient
diagnostics on. One run per loss in the same pipeline, so ExampleGen ..
Transform run once and are reused when only the loss changes.

The losses run here are BCE, Combined-Pair and the first loss of every other
output head (models/losses.py: `head`): the head decides what the Trainer
exports and serves, and losses that share a head differ only in the loss
function, which tests/test_losses.py checks against NumPy and
tests/test_dcn.py trains through Keras fit for every loss.

Each loss trains without NaN, is pushed, and the pushed SavedModel serves
probabilities in (0, 1). The diagnostics of the BCE and Combined-Pair runs
show the paper's Finding 4: Combined-Pair's gradient on negatives is larger.

On the same pipeline output: a run on the BeamDagRunner killed in training resumes from the
cache and from its last epoch; two local Trainer workers (MultiWorkerMirroredStrategy) train the
model one worker trains.

Blessing is not under test here (evaluation/config.py has its own tests):
the thresholds are opened so that every loss's model is pushed.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from sklearn.metrics import roc_auc_score

from models import resume
from models.criteo_rows import STANDARD_TSV, decode_line, parse_line
from models.diagnostics import BATCHES_FILE
from models.hparams import AUXILIARY_LOSSES, ModelConfig
from models.local_fn_args import local_fn_args
from models.losses import LOSSES, get_loss
from models.run_files import CONFIG_FILE
from models.serving_contract import LOGIT_KEY, PROBABILITY_KEY, serialized_examples
from models.trainer import DIAGNOSTICS_DIR, HISTORY_FILE, TRAINING_KEY, run_fn
from conftest import in_memory_beam_args
from pipeline.config import PipelineConfig
from pipeline.run_result import RunOutputs, execution_mark, latest_run, open_store, trained_model_config
from sparsectr.cli import main
from sparsectr.run import format_summary, run
from synthetic import generator

pytestmark = pytest.mark.slow

ROWS, POSITIVE_RATE, BETA, BATCH = 10_000, 0.03, 0.1, 1024


def _one_loss_per_head() -> tuple[str, ...]:
    """BCE first, then Combined-Pair (the Finding-4 pair), then the first loss of each other head."""
    order, heads = ["bce", "combined_pair"], set()
    for loss in [*order, *sorted(LOSSES)]:
        head = get_loss(ModelConfig(loss=loss, alpha=0.5)).head
        if head not in heads:
            heads.add(head)
            order += [] if loss in order else [loss]
    return tuple(order)


LOSS_ORDER = _one_loss_per_head()
# What a new loss leaves cached: the data components, Transform and the logistic-regression baseline.
LOSS_INDEPENDENT = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
                    "Transform", "BaselineTrainer", "BaselineEvaluator"}
CACHED = metadata_store_pb2.Execution.CACHED
SERVED_ROWS = 512


def _run_and_states(config: PipelineConfig) -> tuple[dict, dict[str, int]]:
    """Runs the pipeline; its summary and the state of each execution it added, by node id."""
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    summary = run(config)
    assert summary["ok"], summary["error"]
    executions = RunOutputs.since(store, mark, config.pipeline_root).executions
    return summary, {node: e.last_known_state for node, e in executions.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """loss -> (summary, execution states, diagnostics dir), then the two unchanged re-runs' states."""
    tmp = tmp_path_factory.mktemp("losses")
    data = str(tmp / "generated.tsv")
    generator.generate_to_path(ROWS, POSITIVE_RATE, seed=3, out=data)
    # One epoch on 300 clicks learns little (some losses' Platt scale comes out negative): every blessing
    # rule is relaxed, so that each model is pushed and its serving checked; the rules' own tests are in
    # test_model_checks.py and test_pipeline_e2e.py.
    base = PipelineConfig(data=data, output_dir=str(tmp / "out"), beam_pipeline_args=in_memory_beam_args(),
                          min_auc=0.0, auc_tolerance=1.0, logloss_tolerance=1.0, baseline_auc_z=math.inf,
                          baseline_logloss_margin=math.inf, max_loss_growth=math.inf, min_platt_scale=-math.inf,
                          model=ModelConfig(beta=BETA, alpha=0.5, epochs=1, batch_size=BATCH, diagnostics=True))
    results = {}
    for loss in LOSS_ORDER:
        config = dataclasses.replace(base, model=dataclasses.replace(base.model, loss=loss))
        summary, states = _run_and_states(config)
        diagnostics = os.path.join(latest_run(config.output_dir).uri("Trainer", "model_run"),
                                   DIAGNOSTICS_DIR)
        results[loss] = (summary, states, diagnostics)
    reruns = [_run_and_states(config)[1] for _ in range(2)]  # the last loss again, unchanged
    return results, reruns, data


@pytest.mark.parametrize("loss", LOSS_ORDER)
def test_each_loss_trains_without_nan_and_the_pushed_model_serves_probabilities(runs, loss):
    results, _, data = runs
    summary, states, diagnostics = results[loss]
    assert states["Trainer"] != CACHED and summary["blessed"] is True
    if loss != LOSS_ORDER[0]:  # a new loss re-runs the Trainer only: Transform gets no training setting
        assert {c for c, s in states.items() if s == CACHED} == LOSS_INDEPENDENT, states
    assert summary["training"]["epochs"] == 1
    assert all(math.isfinite(v) for curve in summary["training"]["curves"].values() for v in curve.values())
    batches = np.genfromtxt(os.path.join(diagnostics, BATCHES_FILE), delimiter=",", names=True)
    assert len(batches) == math.ceil(summary["splits"]["train"]["examples"] / BATCH)
    assert np.all(np.isfinite(batches["mean_abs_grad_negatives"])) and np.all(batches["mean_abs_grad_negatives"] > 0)

    pushed = summary["pushed_model"]
    assert os.path.isdir(pushed)
    with open(os.path.join(pushed, "assets.extra", CONFIG_FILE)) as f:
        recorded = json.load(f)
    # bce and focal have no auxiliary term: the given alpha is not used, and the record says 1.0 (all BCE).
    alpha, source = (0.5, "given") if loss in AUXILIARY_LOSSES else (1.0, "no auxiliary term; the given 0.5 is not used")
    assert (recorded["loss"], recorded["beta"], recorded["alpha"]) == (loss, BETA, alpha)
    assert f"loss {loss}, alpha {alpha:g} ({source}), beta {BETA:g}" in format_summary(summary)
    with open(data, "rb") as f:
        rows = [parse_line(decode_line(line), STANDARD_TSV) for line in f.readlines()[:SERVED_ROWS]]
    outputs = tf.saved_model.load(pushed).signatures["serving_default"](examples=tf.constant(serialized_examples(rows)))
    probability, logit = outputs[PROBABILITY_KEY].numpy(), outputs[LOGIT_KEY].numpy()
    assert probability.shape == (SERVED_ROWS,)
    assert np.all((probability > 0) & (probability < 1)) and probability.std() > 1e-4
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-logit.astype(np.float64))), rtol=1e-5)
    if loss == LOSS_ORDER[0]:  # `sparsectr predict` scores the whole file through the same signature
        out = os.path.join(os.path.dirname(data), "predictions.txt")
        assert main(["predict", "--model", pushed, "--data", data, "--out", out]) == 0
        predicted = np.loadtxt(out)
        assert predicted.shape == (ROWS,)
        np.testing.assert_allclose(predicted[:SERVED_ROWS], probability, rtol=1e-5)


def test_combined_pair_lifts_the_negatives_gradient_above_bce(runs):
    """Finding 4 in pipeline runs at beta 0.1: the same data, seed and start."""
    results, _, _ = runs
    grads = {loss: np.genfromtxt(os.path.join(results[loss][2], BATCHES_FILE), delimiter=",",
                                 names=True)["mean_abs_grad_negatives"] for loss in ("bce", "combined_pair")}
    assert len(grads["bce"]) == len(grads["combined_pair"]) >= 2
    assert np.all(grads["combined_pair"] > grads["bce"]), grads


def test_unchanged_reruns_reuse_the_cache(runs):
    """A second, unchanged run reuses every execution up to the Trainer. The Resolver always runs, and
    it now finds the previous run's model as the latest blessed one, a new baseline: the Evaluator runs
    again against it and the Pusher follows. A third run then reuses everything but the Resolver."""
    _, (second, third), _ = runs
    resolver = "latest_blessed_model_resolver"
    assert {c for c, s in second.items() if s != CACHED} == {resolver, "Evaluator", "ServingPusher"}, second
    assert {c for c, s in third.items() if s != CACHED} == {resolver}, third


RESUME_EPOCHS = 4
NOT_RERUN = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
             "Transform", "BaselineTrainer", "BaselineEvaluator"}


def _epochs_recorded(pipeline_root: str) -> list[dict]:
    """The epochs the Trainer's resumable state holds (models/resume.py); [] before the first."""
    paths = glob.glob(os.path.join(pipeline_root, "Trainer", resume.BACKUP_DIR, "*", "epochs.json"))
    assert len(paths) <= 1, paths
    if not paths:
        return []
    with open(paths[0]) as f:
        return json.load(f)


def test_a_run_killed_in_training_resumes_from_the_cache_and_its_last_epoch_on_the_beam_runner(runs):
    """`sparsectr run --runner beam` (BeamDagRunner), killed with SIGKILL once the Trainer has
    finished two epochs, then run again: every component before the Trainer comes from the cache, and
    the Trainer starts after the last epoch its checkpoint holds, with the earlier epochs' history."""
    _, _, data = runs
    out = os.path.join(os.path.dirname(data), "out")
    root = os.path.join(out, "pipeline_root")
    command = [sys.executable, "-c", "import sys; from sparsectr.cli import main; sys.exit(main())", "run",
               "--runner", "beam", "--data", data, "--output", out, f"--beam-args={' '.join(in_memory_beam_args())}",
               "--min-auc", "0", "--auc-tolerance", "1", "--logloss-tolerance", "1", "--beta", str(BETA),
               "--alpha", "0.5", "--batch-size", str(BATCH), "--epochs", str(RESUME_EPOCHS),
               "--early-stopping-patience", str(RESUME_EPOCHS), "--loss", "combined_pair"]
    store = open_store(os.path.join(out, "metadata.db"))
    mark = execution_mark(store)
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while len(_epochs_recorded(root)) < 2:  # then the checkpoint holds at least the first epoch
        assert process.poll() is None, f"the run ended before its second epoch:\n{process.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, "no epoch finished in 10 minutes"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed = RunOutputs.since(store, mark, root).executions
    assert killed["Trainer"].last_known_state == metadata_store_pb2.Execution.RUNNING
    before_kill = _epochs_recorded(root)
    assert 2 <= len(before_kill) < RESUME_EPOCHS

    mark = execution_mark(store)
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    outputs = RunOutputs.since(store, mark, root)
    states = {node: e.last_known_state for node, e in outputs.executions.items()}
    assert {node for node, s in states.items() if s == CACHED} == NOT_RERUN, states
    assert "Transform cached" in finished.stderr and "Trainer done" in finished.stderr  # progress lines
    record = trained_model_config(outputs.uri("Trainer", "model"))[TRAINING_KEY]
    # The early-stopping state is written just before the checkpoint: a kill between the two leaves the
    # checkpoint one epoch behind, and that epoch is trained again.
    assert record["resumed_at_epoch"] - 1 in (len(before_kill), len(before_kill) - 1), record
    with open(os.path.join(outputs.uri("Trainer", "model_run"), HISTORY_FILE)) as f:
        history = json.load(f)
    assert len(history["loss"]) == RESUME_EPOCHS
    kept = record["resumed_at_epoch"] - 1
    assert history["loss"][:kept] == [e["logs"]["loss"] for e in before_kill[:kept]]
    assert not glob.glob(os.path.join(root, "Trainer", resume.BACKUP_DIR, "*")), "the backup outlived the run"


def _worker_job(workers: int, transform_graph: str, examples: str, out: str, model: dict) -> None:
    """One worker: run_fn in this process. More: processes of tests/trainer_worker.py with TF_CONFIG on
    localhost ports, as a cluster launcher starts them."""
    if workers == 1:
        run_fn(local_fn_args(transform_graph, examples, out, model))
        return
    ports = [_free_port() for _ in range(workers)]
    processes = []
    for index in range(workers):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                       "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(__file__), "trainer_worker.py"), transform_graph,
             examples, out, json.dumps(model)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_local_workers_train_the_model_one_worker_trains(runs, tmp_path):
    """MultiWorkerMirroredStrategy (distribution auto + TF_CONFIG) with 2 workers on localhost: each
    takes half of every global batch and the gradients are all-reduced, so the model is the one a
    single worker trains, up to the order of floating-point sums. Without dropout: each replica draws
    its own dropout masks, which a single worker does not (with dropout 0.1 the predictions differ
    by up to 5e-4 after an epoch).
    On the file's last 2,000 rows: predictions within 1e-6, AUC within 1e-6."""
    _, _, data = runs
    transform = latest_run(os.path.join(os.path.dirname(data), "out"))
    graph = transform.uri("Transform", "transform_graph")
    examples = transform.uri("Transform", "transformed_examples")
    model = {"beta": BETA, "batch_size": BATCH, "epochs": 1, "calibration": "none", "seed": 1, "dropout": 0.0}
    scores, predictions = {}, {}
    with open(data, "rb") as f:
        lines = f.readlines()
    for workers in (1, 2):
        out = str(tmp_path / f"workers{workers}")
        _worker_job(workers, graph, examples, out, model)
        exported = os.path.join(out, "model", "1", "Format-Serving")
        assert sorted(os.listdir(os.path.join(out, "model", "1"))) == ["Format-Serving"]  # no worker scratch left
        with open(os.path.join(exported, "assets.extra", CONFIG_FILE)) as f:
            record = json.load(f)[TRAINING_KEY]
        assert record["replicas"] == workers
        rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines[-2000:]]
        predictions[workers] = tf.saved_model.load(exported).signatures["serving_default"](
            examples=tf.constant(serialized_examples(rows)))[PROBABILITY_KEY].numpy()
        scores[workers] = roc_auc_score([r["label"] for r in rows], predictions[workers])
        with open(os.path.join(out, "model_run", "1", HISTORY_FILE)) as f:
            assert len(json.load(f)["loss"]) == 1
    np.testing.assert_allclose(predictions[2], predictions[1], atol=1e-6)
    assert scores[2] == pytest.approx(scores[1], abs=1e-6), scores
