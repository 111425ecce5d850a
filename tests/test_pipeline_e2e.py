"""The whole pipeline (LocalDagRunner): every component runs, the model is
blessed and pushed, and the pushed SavedModel serves probabilities for real
Criteo rows. On the real Kaggle sample's 9,000 / 1,109 split the model
reaches the acceptance AUC, and the served probabilities give the AUC TFMA
reported. (Caching across re-runs: tests/test_losses_pipeline.py.)"""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from components.criteo_example_gen.parsing import STANDARD_TSV, decode_line, parse_line
from models import features
from models.hparams import ModelConfig
from pipeline.config import PipelineConfig
from sparsectr.run import local_metadata_store, run
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
    return local_metadata_store(config).get_executions()


def test_pipeline_trains_blesses_and_pushes_a_model_that_serves_real_rows(criteo_dir, tmp_path):
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
