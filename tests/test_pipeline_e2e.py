"""The whole pipeline (LocalDagRunner): every component runs, the model is
blessed and pushed, the pushed SavedModel serves probabilities for real
Criteo rows, and re-runs reuse the cache. On the real Kaggle sample's
9,000 / 1,109 split the model reaches the acceptance AUC, and the served
probabilities give the AUC TFMA reported."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from sklearn.metrics import roc_auc_score
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.criteo_example_gen.parsing import STANDARD_TSV, decode_line, parse_line
from models import features
from models.hparams import ModelConfig
from pipeline.config import PipelineConfig
from sparsectr.run import run
from sparsectr.serving import serialized_examples

pytestmark = pytest.mark.slow

COMPONENTS = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
              "Transform", "Trainer", "Evaluator", "Pusher"}
# The acceptance split of the real Kaggle sample: train on its first 9,000 rows,
# evaluate on the other 1,109. The SPEC's batch of 4096 would be 2 steps per
# epoch here; 256 with a stronger embedding prior suits 9,000 rows.
KAGGLE_MODEL = ModelConfig(batch_size=256, embedding_l2=1e-3, epochs=2)
KAGGLE_TRAIN_ROWS = 9000
MIN_KAGGLE_AUC = 0.75


def _executions(config: PipelineConfig) -> list:
    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    return store.get_executions()


def test_pipeline_trains_blesses_pushes_and_reuses_the_cache(criteo_dir, tmp_path):
    lines = (criteo_dir / "kaggle_train_head10k.tsv").read_bytes().splitlines(keepends=True)
    for split, part in (("train", lines[:KAGGLE_TRAIN_ROWS]), ("eval", lines[KAGGLE_TRAIN_ROWS:])):
        (tmp_path / "data" / split).mkdir(parents=True)
        (tmp_path / "data" / split / f"{split}.tsv").write_bytes(b"".join(part))
    config = PipelineConfig(data=str(tmp_path / "data"), output_dir=str(tmp_path / "out"), model=KAGGLE_MODEL)

    summary = run(config)
    assert summary["ok"], summary["error"]
    executed = {e.type.rsplit(".", 1)[-1] for e in _executions(config)}
    assert COMPONENTS <= executed, COMPONENTS - executed
    assert summary["blessed"] is True
    assert summary["training"]["epochs"] >= 1
    assert summary["splits"]["train"]["examples"] == KAGGLE_TRAIN_ROWS
    assert summary["evaluation_split"] == "eval" and summary["evaluation"]["example_count"] == 1109
    assert MIN_KAGGLE_AUC <= summary["evaluation"]["auc"] <= 1.0, summary["evaluation"]
    pushed = summary["pushed_model"]
    assert os.path.dirname(pushed) == config.serving_dir and os.path.basename(pushed).isdigit()

    # The pushed model serves probabilities for serialized raw rows (labels removed) of the real
    # sample, and they score the AUC that TFMA computed through the same signature.
    rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines[KAGGLE_TRAIN_ROWS:]]
    serialized = serialized_examples(rows)
    serve = tf.saved_model.load(pushed).signatures["serving_default"]
    outputs = serve(examples=tf.constant(serialized))
    probability = outputs["probability"].numpy()
    assert probability.shape == (len(rows),)
    assert np.all((probability > 0) & (probability < 1)) and probability.std() > 1e-4
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-outputs["logit"].numpy())), rtol=1e-5)
    labels = [r[features.LABEL_KEY] for r in rows]
    assert roc_auc_score(labels, probability) == pytest.approx(summary["evaluation"]["auc"], abs=2e-3)

    # A second, unchanged run reuses every execution up to the Trainer. The Resolver always runs,
    # and it now finds a blessed model (the first run's), so the Evaluator runs once more against
    # that baseline and the Pusher follows; a third run then reuses everything.
    second = _new_states(config, lambda: run(config))
    assert set(second) >= COMPONENTS and {c for c, s in second.items() if s != CACHED} == RERUN_ON_NEW_BASELINE, second
    third = _new_states(config, lambda: run(config))
    assert {c for c, s in third.items() if s != CACHED} == {"Resolver"}, third


CACHED = metadata_store_pb2.Execution.CACHED
RERUN_ON_NEW_BASELINE = {"Resolver", "Evaluator", "Pusher"}


def _new_states(config: PipelineConfig, run_once) -> dict[str, int]:
    """Runs the pipeline once; returns the state of each execution it added, by component type."""
    before = len(_executions(config))
    assert run_once()["ok"]
    return {e.type.rsplit(".", 1)[-1]: e.last_known_state for e in _executions(config)[before:]}
