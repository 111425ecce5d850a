"""DCN-V2 against the Bayes-optimal predictor and simple baselines, on
generated data whose true click probabilities are known.

Generates train / eval / test as three seeds of the same hidden click model
(`data/train`, `data/eval`, `data/test`: the pipeline keeps these splits),
runs the whole pipeline, and scores on the test rows:
- Bayes-optimal: the rows' true probabilities;
- constant CTR: the training positive rate;
- logistic regression on main effects (hashed one-hot, sparsectr.baselines),
  its L2 strength C chosen on the eval rows' logloss;
- the pushed DCN-V2, through its serving signature, with the default run's
  model settings (its epoch chosen by early stopping on eval AUC).

Usage: .venv/bin/python benchmarks/synthetic_quality.py --rows 200000 --positive-rate 0.03 --out /tmp/quality
"""
from __future__ import annotations

import argparse
import json
import os

import sparsectr  # noqa: F401
from sparsectr.progress import component_progress, quiet_environment

quiet_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from components.criteo_example_gen.executor import row_to_example  # noqa: E402
from models import features  # noqa: E402
from models.hparams import ModelConfig  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from sparsectr import baselines, synthetic  # noqa: E402
from sparsectr.data_profile import read_rows  # noqa: E402
from sparsectr.run import DEFAULT_RUN_MODEL, run  # noqa: E402

SHARES = {"train": 0.8, "eval": 0.1, "test": 0.1}
LR_C_GRID = (0.03, 0.1, 0.3, 1.0)


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))}


def _serve(model_dir: str, rows: list[dict], batch: int = 4096) -> np.ndarray:
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    out = []
    for i in range(0, len(rows), batch):
        serialized = [row_to_example({k: v for k, v in r.items() if k != features.LABEL_KEY}).SerializeToString()
                      for r in rows[i:i + batch]]
        out.append(serve(examples=tf.constant(serialized))["probability"].numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--positive-rate", type=float, default=0.03)
    parser.add_argument("--out", default="/tmp/sparsectr-quality")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    paths = {}
    for seed, (split, share) in enumerate(SHARES.items()):
        paths[split] = os.path.join(args.out, "data", split, f"{split}.tsv")
        if not os.path.exists(paths[split]):
            synthetic.generate_to_path(int(args.rows * share), args.positive_rate, seed, paths[split],
                                       with_truth=True)
    config = PipelineConfig(data=os.path.join(args.out, "data"), output_dir=os.path.join(args.out, "run"),
                            model=ModelConfig(**{**DEFAULT_RUN_MODEL, "batch_size": args.batch_size,
                                                 "epochs": args.epochs}))
    with component_progress():
        summary = run(config)
    if not summary["ok"]:
        raise SystemExit(summary["error"])

    train, valid, test = (read_rows(paths[split]) for split in SHARES)
    y = baselines.labels(test)
    lr_eval = {c: _scores(baselines.labels(valid), baselines.fit_predict_logistic(train, valid, c=c))["logloss"]
               for c in LR_C_GRID}
    best_c = min(lr_eval, key=lr_eval.get)
    truth = synthetic.read_truth(os.path.join(os.path.dirname(paths["test"]), "_test.tsv.truth"))
    train_rate = float(baselines.labels(train).mean())
    results = {
        "bayes_optimal": _scores(y, truth),
        "constant_ctr": _scores(y, np.full(len(y), train_rate)),
        f"logistic_regression_main_effects (C={best_c})": _scores(
            y, baselines.fit_predict_logistic(train, test, c=best_c)),
        "dcn_v2": _scores(y, _serve(summary["pushed_model"], test)),
    }
    report = {"rows": args.rows, "positive_rate": args.positive_rate, "test_rows": len(test),
              "test_positive_rate": float(y.mean()), "model": config.model.to_dict(),
              "training": summary.get("training"), "lr_eval_logloss_by_c": lr_eval,
              "results": results}
    print(json.dumps(report, indent=1))
    print(f"\n| model | test AUC | test logloss |\n|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['auc']:.4f} | {r['logloss']:.4f} |")


if __name__ == "__main__":
    main()
