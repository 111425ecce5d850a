"""Training settings compared on one run's Transform output: how the sizing
rule's constants (models/sizing.py) were chosen.

Reads the train / eval / test splits that Transform wrote in RUN_DIR (a
`sparsectr run --data DIR_WITH_train_eval_test --categorical-min-count 1`
run, so that every vocabulary value has an id), trains the DCN-V2 of
models/dcn.py with each setting of GRID in memory (early stopping on eval,
best weights restored) and prints eval AUC / logloss (what a choice may look
at) and test AUC / logloss / calibration (what it may not), averaged over
seeds. A vocabulary minimum count m is applied as the Trainer does: ids of
values seen fewer than m times in train become the OOV id.

Usage: .venv/bin/python benchmarks/settings_sweep.py RUN_DIR '[{"batch_size": 256, "embedding_l2": 1e-3,
       "min_count": 10}, ...]' 0,1
"""
from __future__ import annotations

import glob
import json
import os
import sys

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from models import features  # noqa: E402
from models.dcn import build_dcn_v2  # noqa: E402
from models.hparams import MONITORS, ModelConfig  # noqa: E402
from models.losses import click_logit  # noqa: E402
from models.sizing import SPEC_SETTINGS  # noqa: E402
from models.trainer import compile_model  # noqa: E402
from models.vocabulary import id_counts  # noqa: E402
from pipeline.run_result import latest_run  # noqa: E402

SPLITS = ("train", "eval", "test")


def load_splits(run_dir: str) -> tuple[tft.TFTransformOutput, dict[str, dict[str, np.ndarray]]]:
    transform = latest_run(run_dir)
    tft_output = tft.TFTransformOutput(transform.uri("Transform", "transform_graph"))
    examples = transform.uri("Transform", "transformed_examples")
    spec = tft_output.transformed_feature_spec()
    splits = {}
    for split in SPLITS:
        files = glob.glob(os.path.join(examples, f"Split-{split}", "*"))
        columns: dict[str, list] = {}
        for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(100_000):
            for name, value in tf.io.parse_example(batch, spec).items():
                columns.setdefault(name, []).append(value.numpy())
        splits[split] = {name: np.concatenate(parts) for name, parts in columns.items()}
    return tft_output, splits


def train_and_score(tft_output, splits, settings: dict, seed: int) -> dict:
    settings = dict(settings)
    min_count = settings.pop("min_count", 2)
    config = ModelConfig(**{**SPEC_SETTINGS, **settings, "categorical_min_count": min_count, "seed": seed})
    sizes = id_counts(tft_output, min_count, config.integer_buckets)
    tf.keras.utils.set_random_seed(seed)
    model = build_dcn_v2(config, sizes)
    compile_model(model, config)

    def inputs(split):
        return {name: splits[split][name] for name in features.FEATURE_KEYS}

    labels = {split: splits[split][features.LABEL_KEY] for split in SPLITS}
    monitor = f"val_{config.monitor}"
    mode = MONITORS[config.monitor]
    history = model.fit(
        inputs("train"), labels["train"].reshape(-1, 1), batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(inputs("eval"), labels["eval"].reshape(-1, 1)), verbose=0,
        callbacks=[tf.keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, restore_best_weights=True,
                                                    patience=config.early_stopping_patience),
                   tf.keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.1, patience=1)])
    out = {"epochs": len(history.history["loss"])}
    for split in ("eval", "test"):
        p = tf.sigmoid(click_logit(model.predict(inputs(split), batch_size=4096, verbose=0))[:, 0]).numpy()
        y = labels[split]
        out[split] = {"auc": roc_auc_score(y, p), "logloss": log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)),
                      "calibration": p.mean() / y.mean()}
    return out


def main() -> None:
    run_dir, grid = sys.argv[1], json.loads(sys.argv[2])
    seeds = [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "0").split(",")]
    tft_output, splits = load_splits(run_dir)
    # The model maps ids above the kept count to OOV (models/dcn.py: CapIds), as in the Trainer.
    for settings in grid:
        runs = [train_and_score(tft_output, splits, settings, seed) for seed in seeds]

        def mean(split, metric):
            return np.mean([r[split][metric] for r in runs])

        print(json.dumps(settings), f"eval AUC {mean('eval', 'auc'):.4f} logloss {mean('eval', 'logloss'):.4f} | "
              f"test AUC {mean('test', 'auc'):.4f} logloss {mean('test', 'logloss'):.4f} "
              f"calibration {mean('test', 'calibration'):.3f} | epochs {[r['epochs'] for r in runs]}", flush=True)


if __name__ == "__main__":
    main()
