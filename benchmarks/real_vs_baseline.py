"""The DCN-V2 with default settings against a tuned logistic regression, on the
real Criteo samples, scored on rows neither saw.

Each sample (10,000 rows) is cut into K contiguous folds. For each fold, the
pipeline runs as `sparsectr run --data DIR` would with DIR/train = the other
folds and DIR/eval = this fold: default settings (sized to the data,
models/sizing.py), early stopping and Platt calibration on 10% of train held
out by the Trainer, TFMA scoring the fold. Every row is scored once, by
models that never saw it; metrics are pooled over all rows (and per fold).

Against it, on the same rows: the logistic regression of benchmarks/baselines.py
(hashed one-hot, main effects), its C chosen from LR_C_GRID on the last 10% of
the fold's train rows and refitted on all of them; and the run's own
logistic-regression baseline (models/baseline.py, as the summary reports it).

Resumable: each fold's result is kept in OUT/<sample>/fold<k>.json.
Usage: .venv/bin/python benchmarks/real_vs_baseline.py --out /tmp/real [--folds 5]
"""
from __future__ import annotations

import argparse
import json
import os

import models  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
from sparsectr.progress import component_progress, quiet_environment

quiet_environment()

import numpy as np  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from benchmarks import baselines  # noqa: E402
from models.criteo_rows import STANDARD_TSV, decode_line, parse_line  # noqa: E402
from models.serving_contract import MODEL_LOGIT_KEY, PROBABILITY_KEY  # noqa: E402
from models.criteo_rows import open_local  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from sparsectr.run import run  # noqa: E402
from sparsectr.serving import predict_outputs  # noqa: E402

SAMPLES = ("kaggle_train_head10k.tsv.gz", "criteo1tb_day0_head10k.tsv.gz")
LR_C_GRID = (0.01, 0.03, 0.1, 0.3)
SAMPLES_DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "criteo")  # README there


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])),
            "calibration": float(p.mean() / y.mean())}


def tuned_logistic_regression(train: list, test: list) -> tuple[np.ndarray, float]:
    """Probabilities on `test`, C chosen on the last 10% of `train` (by logloss), refitted on all of it."""
    cut = int(len(train) * 0.9)
    fit, held = train[:cut], train[cut:]
    held_y = baselines.labels(held)
    c = min(LR_C_GRID, key=lambda c: log_loss(held_y, baselines.fit_predict_logistic(fit, held, c=c), labels=[0, 1]))
    return baselines.fit_predict_logistic(train, test, c=c), c


def run_fold(lines: list[bytes], k: int, folds: int, out: str) -> dict:
    bounds = np.linspace(0, len(lines), folds + 1).astype(int)
    test_lines = lines[bounds[k]:bounds[k + 1]]
    train_lines = lines[:bounds[k]] + lines[bounds[k + 1]:]
    data = os.path.join(out, f"fold{k}", "data")
    for split, part in (("train", train_lines), ("eval", test_lines)):
        os.makedirs(os.path.join(data, split), exist_ok=True)
        with open(os.path.join(data, split, f"{split}.tsv"), "wb") as f:
            f.write(b"".join(part))
    config = PipelineConfig(data=data, output_dir=os.path.join(out, f"fold{k}", "run"))
    with component_progress():
        summary = run(config)
    if not summary["ok"]:
        raise SystemExit(summary["error"])
    train = [parse_line(decode_line(line), STANDARD_TSV) for line in train_lines]
    test = [parse_line(decode_line(line), STANDARD_TSV) for line in test_lines]
    outputs = predict_outputs(summary["trained_model"], test)
    lr, c = tuned_logistic_regression(train, test)
    return {"fold": k, "rows": len(test), "labels": baselines.labels(test).tolist(),
            "dcn": outputs[PROBABILITY_KEY].tolist(),
            "dcn_uncalibrated": (1 / (1 + np.exp(-outputs[MODEL_LOGIT_KEY]))).tolist(),
            "lr": lr.tolist(), "lr_c": c, "in_run_baseline": summary.get("baseline"),
            "evaluation": summary["evaluation"], "sized": {k: summary["model_config"][k]
                                                           for k in summary["training_data"]["sized"]},
            "training_data": {k: v for k, v in summary["training_data"].items() if k != "calibration"},
            "best_epoch": summary["training"]["best_epoch"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/sparsectr-real")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--samples", default=",".join(SAMPLES))
    parser.add_argument("--samples-dir", default=SAMPLES_DIR, help="the folder with the real Criteo samples")
    args = parser.parse_args()
    table = []
    for sample in args.samples.split(","):
        with open_local(os.path.join(args.samples_dir, sample)) as f:
            lines = f.read().splitlines(keepends=True)
        out = os.path.join(args.out, sample.split(".")[0])
        folds = []
        for k in range(args.folds):
            path = os.path.join(out, f"fold{k}.json")
            if not os.path.exists(path):
                result = run_fold(lines, k, args.folds, out)
                with open(path + ".tmp", "w") as f:
                    json.dump(result, f)
                os.replace(path + ".tmp", path)
            with open(path) as f:
                folds.append(json.load(f))
        y = np.concatenate([f["labels"] for f in folds])
        models = {"DCN-V2, defaults (Platt-calibrated)": "dcn", "DCN-V2 before calibration": "dcn_uncalibrated",
                  "logistic regression, C tuned on held-out train rows": "lr"}
        for name, key in models.items():
            pooled = _scores(y, np.concatenate([f[key] for f in folds]))
            per_fold = [_scores(np.array(f["labels"]), np.array(f[key])) for f in folds]
            table.append((sample, name, pooled, per_fold))
        in_run = [f["in_run_baseline"] for f in folds if f.get("in_run_baseline")]
        print(f"{sample}: {len(y):,} rows, {y.mean():.2%} clicks, {args.folds} folds; sized settings of fold 0: "
              f"{folds[0]['sized']}; LR C per fold {[f['lr_c'] for f in folds]}; in-run baseline AUC per fold "
              f"{[round(b['auc'], 4) for b in in_run]}")
    print("\n| sample | model | AUC (pooled) | logloss (pooled) | calibration | AUC per fold (mean ± sd) | "
          "logloss per fold (mean ± sd) |\n|---|---|---|---|---|---|---|")
    for sample, name, pooled, per_fold in table:
        aucs, losses = [s["auc"] for s in per_fold], [s["logloss"] for s in per_fold]
        print(f"| {sample.split('.')[0]} | {name} | {pooled['auc']:.4f} | {pooled['logloss']:.4f} | "
              f"{pooled['calibration']:.3f} | {np.mean(aucs):.4f} ± {np.std(aucs, ddof=1):.4f} | "
              f"{np.mean(losses):.4f} ± {np.std(losses, ddof=1):.4f} |")


if __name__ == "__main__":
    main()
