"""Every loss through the real pipeline (LocalDagRunner) on generated sparse
data: 3% clicks, beta 0.1, the default DCN-V2, one epoch, gradient
diagnostics on. One run per loss in the same pipeline, so ExampleGen ..
Transform run once and are reused when only the loss changes.

Each loss trains without NaN, is pushed, and the pushed SavedModel serves
probabilities in (0, 1). The diagnostics of the BCE and Combined-Pair runs
show the paper's Finding 4: Combined-Pair's gradient on negatives is larger.

Blessing is not under test here (pipeline/eval_config.py has its own tests):
the thresholds are opened so that every loss's model is pushed.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from components.criteo_example_gen.parsing import STANDARD_TSV, decode_line, parse_line
from models.diagnostics import BATCHES_FILE
from models.hparams import AUXILIARY_LOSSES, ModelConfig
from models.losses import LOSSES
from models.serving_contract import CONFIG_FILE, LOGIT_KEY, PROBABILITY_KEY
from models.trainer import DIAGNOSTICS_DIR
from conftest import in_memory_beam_args
from pipeline.config import PipelineConfig
from sparsectr import synthetic
from sparsectr.check_data import latest_artifact_dir
from sparsectr.cli import main
from sparsectr.run import format_summary, run
from sparsectr.run_outputs import RunOutputs, execution_mark, open_store
from models.serving_contract import serialized_examples

pytestmark = pytest.mark.slow

ROWS, POSITIVE_RATE, BETA, BATCH = 10_000, 0.03, 0.1, 1024
# BCE first, then Combined-Pair (the Finding-4 pair), then the rest.
LOSS_ORDER = ("bce", "combined_pair", *sorted(set(LOSSES) - {"bce", "combined_pair"}))
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
    synthetic.generate_to_path(ROWS, POSITIVE_RATE, seed=3, out=data)
    base = PipelineConfig(data=data, output_dir=str(tmp / "out"), beam_pipeline_args=in_memory_beam_args(),
                          min_auc=0.0, auc_tolerance=1.0, logloss_tolerance=1.0,
                          model=ModelConfig(beta=BETA, alpha=0.5, epochs=1, batch_size=BATCH, diagnostics=True))
    results = {}
    for loss in LOSS_ORDER:
        config = dataclasses.replace(base, model=dataclasses.replace(base.model, loss=loss))
        summary, states = _run_and_states(config)
        diagnostics = os.path.join(latest_artifact_dir(config.pipeline_root, "Trainer", "model_run"),
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
