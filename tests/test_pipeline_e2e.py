"""The whole pipeline (LocalDagRunner) on the real Kaggle sample's 9,000 /
1,109 split: every component runs, the model reaches the acceptance AUC, is
blessed and pushed, and the pushed SavedModel serves real rows.

Then, on the same run:
- TFMA's per-sparsity-bucket metrics equal NumPy / scikit-learn on the
  served predictions, with buckets computed independently from the raw
  training rows;
- serving_default, predict_raw and the Keras model rebuilt from the export
  (with Transform's own graph) agree on real rows; the warmup requests parse
  as PredictionLog records and replay against the model;
- `sparsectr report` prints the table and writes its PNGs;
- a worse model, trained with finite but diverging losses (learning rate
  10), is refused by the change threshold against the blessed model (not
  by min_auc) and by the fail-closed checks (below its own logistic-regression
  baseline, a degenerate Platt scale), each named in the summary, and is not
  pushed; the serving directory keeps the first version only;
- a run whose training diverges (learning rate 1e30) fails in the Trainer
  with an error that says so, pushes nothing, and its summary shows none of
  the earlier runs' evaluation, blessing or pushed model.
(Caching across re-runs: tests/test_losses_pipeline.py.)"""
from __future__ import annotations

import dataclasses
import glob
import gzip
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tensorflow_model_analysis as tfma
import tensorflow_transform as tft
from sklearn.metrics import log_loss, roc_auc_score
from tensorflow_serving.apis import prediction_log_pb2

from conftest import in_memory_beam_args
from models import features
from models.criteo_rows import STANDARD_TSV, decode_line, parse_line
from models.dcn import CapIds
from models.hparams import ModelConfig
from models.run_files import ASSETS_EXTRA, TRAINING_KEY, trained_model_config
from models.serving_contract import (PROBABILITY_KEY, RAW_SIGNATURE, SERVING_SIGNATURE, TRANSFORM_SIGNATURE,
                                     WARMUP_FILE, raw_columns, serialized_examples)
from models.slices import MISSING_SLICE_VALUE
from models.sparsity import bucket_names
from numpy_references import delong, sparsity_buckets
from pipeline.config import PipelineConfig
from pipeline.run_result import RunOutputs, latest_run, open_store
from sparsectr.cli import main
from sparsectr.run import format_summary, run

pytestmark = pytest.mark.slow

COMPONENTS = {"CriteoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "ValidationGate",
              "Transform", "Trainer", "BaselineTrainer", "Evaluator", "BaselineEvaluator", "ServingPusher"}
METRICS_TOLERANCE = 1e-4  # the bar for TFMA against NumPy / scikit-learn
# The acceptance split of the real Kaggle sample: train on its first 9,000 rows,
# evaluate on the other 1,109 (the Trainer validates on 10% of the 9,000).
# Default settings, sized to the data (models/sizing.py); beta 0.5 so that
# weighted and unweighted metrics differ; C17 (10 values) exercises the
# raw-feature slices; Platt calibration, exported in the signatures.
KAGGLE_MODEL = ModelConfig(beta=0.5, slice_features=("C17",), calibration="platt")
KAGGLE_TRAIN_ROWS = 9000
MIN_KAGGLE_AUC = 0.75


def _sparsity_key(model: ModelConfig, row: dict) -> str:
    return "_x_".join(str(row.get(name, b"").decode() if isinstance(row.get(name), bytes) else row.get(name, ""))
                      for name in model.sparsity_key)


def _expected_slices(model: ModelConfig, train_rows: list[dict], rows: list[dict]) -> dict[str, np.ndarray]:
    """{slice name as the summary names it: mask over `rows`} for the sparsity buckets and the raw values of
    `model.slice_features`, computed from the raw rows alone."""
    buckets = sparsity_buckets([_sparsity_key(model, r) for r in train_rows],
                               [r[features.LABEL_KEY] for r in train_rows], [_sparsity_key(model, r) for r in rows],
                               model.beta, model.sparsity_smoothing, model.sparsity_boundaries)
    expected = {f"sparsity_bucket={i}": buckets == i for i in range(len(model.sparsity_boundaries) + 1)}
    for name in model.slice_features:
        values = np.array([r[name].decode() if isinstance(r.get(name), bytes) else str(r.get(name, MISSING_SLICE_VALUE))
                           for r in rows])
        expected.update({f"{name}={v}": values == v for v in set(values)})
    return expected


def _assert_slice_metrics_match_numpy(slices: dict, expected: dict[str, np.ndarray], labels: np.ndarray,
                                      weights: np.ndarray, probability: np.ndarray, min_slice_size: int) -> int:
    """Every expected slice's count, weighted count, AUC, logloss (weighted and not) and calibration
    equal scikit-learn's on the served predictions; returns how many slices had metrics."""
    compared = 0
    for name, mask in expected.items():
        metrics = slices.get(name)
        if not mask.any():
            assert metrics is None, name
            continue
        assert metrics is not None and metrics["example_count"] == mask.sum(), (name, metrics)
        if mask.sum() < min_slice_size:
            assert set(metrics) == {"example_count"}, name  # withheld
            continue
        y, p, w = labels[mask], probability[mask].astype(np.float64), weights[mask]
        assert metrics["weighted_example_count"] == pytest.approx(w.sum(), abs=METRICS_TOLERANCE)
        assert metrics["weighted_binary_crossentropy"] == pytest.approx(
            log_loss(y, p, sample_weight=w, labels=[0, 1]), abs=METRICS_TOLERANCE), name
        assert metrics["binary_crossentropy"] == pytest.approx(log_loss(y, p, labels=[0, 1]), abs=METRICS_TOLERANCE)
        assert metrics["calibration"] == pytest.approx(p.sum() / y.sum(), rel=METRICS_TOLERANCE), name
        assert metrics["auc"] == pytest.approx(roc_auc_score(y, p), abs=METRICS_TOLERANCE), name
        assert metrics["auc_standard_error"] == pytest.approx(delong(y, p)[1], rel=1e-3), name
        compared += 1
    assert set(slices) == {n for n, m in expected.items() if m.any()}  # no slice TFMA made is unaccounted for
    return compared


def _keras_probabilities(model_dir: str, transform_dir: str, rows: list[dict], loaded) -> np.ndarray:
    """The third path: the Keras model rebuilt from the export's config and weights, fed by
    Transform's own transform graph (not the copy inside the SavedModel). On the way, the export's
    `transform_features` signature must give the same transformed features as that graph."""
    keras_model = tf.keras.models.load_model(model_dir, compile=False,
                                             custom_objects={"Cross": tfrs.layers.dcn.Cross, "CapIds": CapIds})
    tft_output = tft.TFTransformOutput(transform_dir)
    spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k != features.LABEL_KEY}
    serialized = tf.constant(serialized_examples(rows))
    transformed = tft_output.transform_features_layer()(tf.io.parse_example(serialized, spec))
    signature = loaded.signatures[TRANSFORM_SIGNATURE](examples=serialized)
    for name in features.FEATURE_KEYS:
        np.testing.assert_array_equal(signature[name].numpy(), transformed[name].numpy(), err_msg=name)
    logits = keras_model({name: transformed[name] for name in features.FEATURE_KEYS})[:, 0]
    return tf.sigmoid(logits).numpy()


def _assert_warmup_replays(model_dir: str, loaded) -> None:
    records = list(tf.data.TFRecordDataset(os.path.join(model_dir, ASSETS_EXTRA, WARMUP_FILE)).as_numpy_iterator())
    signatures = []
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        inputs = {name: tf.constant(tf.make_ndarray(tensor)) for name, tensor in request.inputs.items()}
        out = loaded.signatures[request.model_spec.signature_name](**inputs)[PROBABILITY_KEY].numpy()
        assert out.shape == (len(next(iter(inputs.values()))),) and np.all((out > 0) & (out < 1))
        signatures.append(request.model_spec.signature_name)
    assert sorted(set(signatures)) == sorted({SERVING_SIGNATURE, RAW_SIGNATURE}) and len(records) == 3


def test_pipeline_trains_blesses_pushes_serves_and_refuses_a_worse_model(criteo_dir, tmp_path, capsys):
    lines = (criteo_dir / "kaggle_train_head10k.tsv").read_bytes().splitlines(keepends=True)
    for split, part in (("train", lines[:KAGGLE_TRAIN_ROWS]), ("eval", lines[KAGGLE_TRAIN_ROWS:])):
        (tmp_path / "data" / split).mkdir(parents=True)
        (tmp_path / "data" / split / f"{split}.tsv").write_bytes(b"".join(part))
    config = PipelineConfig(data=str(tmp_path / "data"), output_dir=str(tmp_path / "out"), model=KAGGLE_MODEL,
                            beam_pipeline_args=in_memory_beam_args())

    summary = run(config)
    assert summary["ok"], summary["error"]
    executed = set(RunOutputs.since(open_store(config.metadata_path), 0, config.pipeline_root).executions)
    assert COMPONENTS <= executed, COMPONENTS - executed
    assert summary["blessed"] is True
    assert summary["training"]["epochs"] >= 1
    assert summary["splits"]["train"]["examples"] == KAGGLE_TRAIN_ROWS
    assert summary["evaluation_split"] == "eval" and summary["evaluation"]["example_count"] == 1109
    assert MIN_KAGGLE_AUC <= summary["evaluation"]["auc"] <= 1.0, summary["evaluation"]
    # No test split: early stopping and calibration use about 10% of train, never the evaluated rows.
    trained = summary["training_data"]
    assert 0.87 * KAGGLE_TRAIN_ROWS < trained["examples"] < 0.93 * KAGGLE_TRAIN_ROWS, trained
    assert trained["validation"].startswith("10% of train") and trained["calibration"]["kind"] == "platt"
    assert 0.07 * KAGGLE_TRAIN_ROWS < trained["calibration"]["rows"] < 0.13 * KAGGLE_TRAIN_ROWS
    assert trained["examples"] + trained["calibration"]["rows"] == KAGGLE_TRAIN_ROWS
    # Settings sized to those rows (models/sizing.py): 8,100 rows -> batch 256, fewer than 20,000 clicks -> 10.
    assert trained["sized"] == ["batch_size", "embedding_l2", "dropout", "categorical_min_count"]
    assert summary["model_config"]["batch_size"] == 256 and summary["model_config"]["categorical_min_count"] == 10
    assert summary["model_config"]["embedding_l2"] == pytest.approx(0.01 * 256 / trained["positives"])
    # The logistic-regression baseline, scored on the same rows.
    assert summary["baseline"]["example_count"] == 1109 and 0.65 < summary["baseline"]["auc"] < 0.85
    # Calibrated as the DCN-V2: Platt, on the same validation rows.
    baseline_training = trained_model_config(latest_run(config.output_dir).uri("BaselineTrainer", "model"))[TRAINING_KEY]
    assert baseline_training["calibration"]["kind"] == "platt"
    assert baseline_training["calibration"]["rows"] == trained["calibration"]["rows"]
    pushed = summary["pushed_model"]
    assert os.path.dirname(pushed) == config.serving_dir and os.path.basename(pushed).isdigit()

    # Served probabilities for the real eval rows (labels removed) score what TFMA reported,
    # overall and per sparsity bucket.
    train_rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines[:KAGGLE_TRAIN_ROWS]]
    rows = [parse_line(decode_line(line), STANDARD_TSV) for line in lines[KAGGLE_TRAIN_ROWS:]]
    loaded = tf.saved_model.load(pushed)
    serve = loaded.signatures[SERVING_SIGNATURE]
    serialized = serialized_examples(rows)
    outputs = serve(examples=tf.constant(serialized))
    probability = outputs["probability"].numpy()
    # TF Serving batches requests as they arrive: a row's prediction must not depend on its batch.
    one_by_one = np.concatenate([serve(examples=tf.constant(serialized[i:i + 1]))[PROBABILITY_KEY].numpy()
                                 for i in range(len(serialized))])
    np.testing.assert_allclose(one_by_one, probability, atol=1e-6)
    assert probability.shape == (len(rows),)
    assert np.all((probability > 0) & (probability < 1)) and probability.std() > 1e-4
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-outputs["logit"].numpy())), rtol=1e-5)
    calibration = trained["calibration"]  # Platt: logit = scale * model_logit + shift
    np.testing.assert_allclose(outputs["logit"].numpy(),
                               calibration["scale"] * outputs["model_logit"].numpy() + calibration["shift"], atol=1e-4)
    labels = [r[features.LABEL_KEY] for r in rows]
    assert roc_auc_score(labels, probability) == pytest.approx(summary["evaluation"]["auc"], abs=METRICS_TOLERANCE)
    labels = np.array(labels)
    weights = np.where(labels > 0, KAGGLE_MODEL.beta, 1.0)
    expected = _expected_slices(KAGGLE_MODEL, train_rows, rows)
    compared = _assert_slice_metrics_match_numpy(summary["evaluation_slices"], expected, labels, weights, probability,
                                                 config.min_slice_size)
    assert compared >= 4, summary["evaluation_slices"]  # buckets and C17 values with metrics

    # Three ways to the same predictions, and the serving assets.
    raw = loaded.signatures[RAW_SIGNATURE](**{k: tf.constant(v) for k, v in raw_columns(rows).items()})
    np.testing.assert_allclose(raw[PROBABILITY_KEY].numpy(), probability, atol=1e-5)
    transform_dir = latest_run(config.output_dir).uri("Transform", "transform_graph")
    np.testing.assert_allclose(_keras_probabilities(pushed, transform_dir, rows, loaded),
                               tf.sigmoid(outputs["model_logit"]).numpy(), atol=1e-5)
    _assert_warmup_replays(pushed, loaded)
    with open(os.path.join(pushed, ASSETS_EXTRA, "evaluation.json")) as f:
        beside = json.load(f)
    assert beside["slices"]["overall"]["auc"] == pytest.approx(summary["evaluation"]["auc"], abs=1e-12)

    # `sparsectr predict` on the same rows, gzip-compressed, some without their label, one line broken:
    # every data line gets its line of output, nan for the broken one; an empty file is one clear error.
    mixed = [line if i % 2 else line.split(b"\t", 1)[1] for i, line in enumerate(lines[KAGGLE_TRAIN_ROWS:])]
    mixed.insert(5, b"not a row\n")
    (tmp_path / "mixed.tsv.gz").write_bytes(gzip.compress(b"".join(mixed)))
    capsys.readouterr()
    assert main(["predict", "--model", pushed, "--data", str(tmp_path / "mixed.tsv.gz"),
                 "--out", str(tmp_path / "p.txt")]) == 0
    assert "1 bad line(s) (line 6: wrong_column_count" in capsys.readouterr().err
    predicted = np.loadtxt(tmp_path / "p.txt")
    assert predicted.shape == (len(rows) + 1,) and np.isnan(predicted[5])
    np.testing.assert_allclose(np.delete(predicted, 5), probability, atol=1e-6)
    assert main(["predict", "--model", pushed, "--data", str(tmp_path / "mixed.tsv.gz"), "--strict"]) == 1
    (tmp_path / "empty.tsv").write_bytes(b"")
    assert main(["predict", "--model", pushed, "--data", str(tmp_path / "empty.tsv")]) == 1
    assert "empty.tsv: no rows to score" in capsys.readouterr().err

    # The run summary and the report of this run.
    printed = format_summary(summary)
    assert "model: DCN-V2 (parallel), loss bce, alpha 1 (no auxiliary term), beta 0.5" in printed, printed
    assert (f"trained on {trained['examples']:,} rows ({trained['positives']:,} positives), validated on 10% of "
            "train") in printed and "batch 256" in printed and "vocabulary min count 10" in printed
    assert "logistic-regression baseline on eval (same rows, models/baseline.py): AUC " in printed
    beaten = (summary["evaluation"]["auc"] > summary["baseline"]["auc"]
              and summary["evaluation"]["weighted_binary_crossentropy"]
              < summary["baseline"]["weighted_binary_crossentropy"])
    assert ("WARNING: the DCN-V2 does not beat the logistic-regression baseline" in printed) is not beaten
    c17_slices = sum(name.startswith("C17=") for name in summary["evaluation_slices"])
    assert c17_slices >= 5 and f"slices by C17: {c17_slices} values" in printed
    for index, name in enumerate(bucket_names(KAGGLE_MODEL.sparsity_boundaries)):
        count = int(expected[f"sparsity_bucket={index}"].sum())
        assert re.search(rf"^{re.escape(name)}\s+{count:,}\b", printed, re.M), (name, printed)
    capsys.readouterr()
    assert main(["report", config.output_dir]) == 0
    printed = capsys.readouterr().out
    assert "sparsity [10%, 25%)" in printed and f"{summary['evaluation']['auc']:.4f}" in printed
    assert printed.count("\nC17=") == c17_slices
    pngs = sorted(glob.glob(os.path.join(config.output_dir, "report", "*.png")))
    assert [os.path.basename(p) for p in pngs] == ["calibration.png", "calibration_before_after.png",
                                                   "sparsity_buckets.png", "training_curves.png"]
    assert all(os.path.getsize(p) > 10_000 for p in pngs)

    # A worse model, trained with finite but diverging losses (learning rate 10): its AUC passes min_auc;
    # TFMA's change threshold against the blessed model refuses it, and so do the fail-closed checks
    # (below its own logistic-regression baseline, a degenerate Platt scale), each named in the summary.
    worse = dataclasses.replace(config, model=dataclasses.replace(KAGGLE_MODEL, learning_rate=10.0, epochs=2))
    second = run(worse)
    assert second["ok"], second["error"]
    assert second["blessed"] is False and second.get("pushed_model") is None
    assert second["evaluation"]["auc"] < summary["evaluation"]["auc"] - worse.auc_tolerance
    failures = [f for s in tfma.load_validation_result(second["evaluation_dir"]).metric_validations_per_slice
                for f in s.failures]
    assert any(f.metric_key.name == "auc" and f.metric_threshold.HasField("change_threshold") for f in failures)
    rules = [r["rule"] for r in second["refused_by"]]
    assert rules[0] == "thresholds" and {"baseline_auc", "platt_scale"} <= set(rules), second["refused_by"]
    assert second["evaluation"]["auc"] < second["baseline"]["auc"] - 0.05
    printed = format_summary(second)
    assert "model: NOT blessed (not pushed)\n  refused by thresholds: " in printed, printed
    assert "\n  refused by baseline_auc: AUC " in printed and "\n  refused by platt_scale: " in printed
    assert os.listdir(config.serving_dir) == [os.path.basename(pushed)]

    # Training that diverges: the Trainer fails at the first non-finite loss and nothing of an earlier
    # run (evaluation, blessing, pushed model) is reported as this run's.
    diverging = dataclasses.replace(config, model=dataclasses.replace(KAGGLE_MODEL, learning_rate=1e30))
    third = run(diverging)
    assert not third["ok"] and "training loss is" in third["error"] and "diverged" in third["error"], third["error"]
    assert not {"evaluation", "blessed", "pushed_model", "trained_model"} & set(third), third
    printed = format_summary(third)
    assert "evaluation on" not in printed and "pushed model" not in printed and "BLESSED" not in printed
    assert os.listdir(config.serving_dir) == [os.path.basename(pushed)]
