"""The whole pipeline (LocalDagRunner): every component runs, the model is
blessed and pushed, the pushed SavedModel serves probabilities for real
Criteo rows, and a second run reuses the cache."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.criteo_example_gen.executor import row_to_example
from components.criteo_example_gen.parsing import STANDARD_TSV, decode_line, parse_line
from models import features
from models.hparams import ModelConfig
from pipeline.config import PipelineConfig
from sparsectr.run import run

pytestmark = pytest.mark.slow

COMPONENTS = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
              "Transform", "Trainer", "Evaluator", "Pusher"}
SMALL_MODEL = ModelConfig(batch_size=256, epochs=2, dnn_units=(64, 64), integer_buckets=16)


def _executions(config: PipelineConfig) -> list:
    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    return store.get_executions()


def test_pipeline_trains_blesses_pushes_and_reuses_the_cache(criteo_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    lines = (criteo_dir / "kaggle_train_head10k.tsv").read_bytes().splitlines(keepends=True)
    (data / "kaggle_3k.tsv").write_bytes(b"".join(lines[:3000]))
    config = PipelineConfig(data=str(data), output_dir=str(tmp_path / "out"), model=SMALL_MODEL)

    summary = run(config)
    assert summary["ok"], summary["error"]
    executed = {e.type.rsplit(".", 1)[-1] for e in _executions(config)}
    assert COMPONENTS <= executed, COMPONENTS - executed
    assert summary["blessed"] is True
    assert summary["training"]["epochs"] >= 1
    assert 0.5 < summary["evaluation"]["auc"] <= 1.0 and summary["evaluation"]["example_count"] > 100
    pushed = summary["pushed_model"]
    assert os.path.dirname(pushed) == config.serving_dir and os.path.basename(pushed).isdigit()

    # The pushed model serves probabilities for serialized raw rows of the real sample.
    rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines[9000:9200]]
    serialized = [row_to_example({k: v for k, v in r.items() if k != features.LABEL_KEY}).SerializeToString()
                  for r in rows]
    serve = tf.saved_model.load(pushed).signatures["serving_default"]
    outputs = serve(examples=tf.constant(serialized))
    probability = outputs["probability"].numpy()
    assert probability.shape == (200,)
    assert np.all((probability > 0) & (probability < 1)) and probability.std() > 1e-4
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-outputs["logit"].numpy())), rtol=1e-5)

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
