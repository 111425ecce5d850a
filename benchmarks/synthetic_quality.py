"""DCN-V2 against the Bayes-optimal predictor and simple baselines, on
generated data whose true click probabilities are known.

Generates train / eval / test as three seeds of the same hidden click model
(`data/train`, `data/eval`, `data/test`: the pipeline keeps these splits),
runs the whole pipeline once per DCN-V2 training seed (Transform and
everything before it is cached after the first), and scores on eval and test:
- Bayes-optimal: the rows' true probabilities;
- constant CTR: the training positive rate;
- logistic regression on main effects (hashed one-hot, sparsectr.baselines),
  its L2 strength C chosen on the eval rows' logloss;
- the trained DCN-V2 of each seed, through its serving signature, with the
  default run's model settings (its epoch chosen by early stopping on eval
  AUC); their mean, and the seed with the best eval AUC.

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
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from models.hparams import ModelConfig  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from sparsectr import baselines, synthetic  # noqa: E402
from sparsectr.data_profile import read_rows  # noqa: E402
from sparsectr.run import DEFAULT_RUN_MODEL, run  # noqa: E402
from sparsectr.serving import predict_probabilities  # noqa: E402

LR_C_GRID = (0.03, 0.1, 0.3, 1.0)


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--positive-rate", type=float, default=0.03)
    parser.add_argument("--out", default="/tmp/sparsectr-quality")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2", help="DCN-V2 training seeds (Transform is shared)")
    args = parser.parse_args()

    files = synthetic.generate_splits(os.path.join(args.out, "data"), args.rows, args.positive_rate)
    paths = {split: rows_file for split, (rows_file, _) in files.items()}
    rows = {split: read_rows(paths[split]) for split in files}
    labels = {split: baselines.labels(rows[split]) for split in ("eval", "test")}

    def scores(predict) -> dict[str, dict[str, float]]:
        return {split: _scores(labels[split], predict(split)) for split in ("eval", "test")}

    results = {}
    dcn = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        model = ModelConfig(**{**DEFAULT_RUN_MODEL, "batch_size": args.batch_size, "epochs": args.epochs,
                               "seed": seed})
        config = PipelineConfig(data=os.path.join(args.out, "data"), output_dir=os.path.join(args.out, "run"),
                                model=model)
        with component_progress():
            summary = run(config)
        if not summary["ok"]:
            raise SystemExit(summary["error"])
        dcn[seed] = scores(lambda split: predict_probabilities(summary["trained_model"], rows[split]))
        dcn[seed]["training"] = summary["training"]
        dcn[seed]["blessed"] = summary.get("blessed")

    train_rate = float(baselines.labels(rows["train"]).mean())
    results["bayes_optimal"] = scores(lambda split: synthetic.read_truth(files[split][1]))
    results["constant_ctr"] = scores(lambda split: np.full(len(rows[split]), train_rate))
    lr = {c: scores(lambda split: baselines.fit_predict_logistic(rows["train"], rows[split], c=c)) for c in LR_C_GRID}
    best_c = min(lr, key=lambda c: lr[c]["eval"]["logloss"])
    results[f"logistic regression, main effects (C={best_c}, chosen on eval logloss)"] = lr[best_c]
    for seed, r in dcn.items():
        results[f"DCN-V2, training seed {seed}"] = {split: r[split] for split in ("eval", "test")}
    results["DCN-V2, mean over seeds"] = {
        split: {m: float(np.mean([r[split][m] for r in dcn.values()])) for m in ("auc", "logloss")}
        for split in ("eval", "test")}
    chosen = max(dcn, key=lambda seed: dcn[seed]["eval"]["auc"])
    results[f"DCN-V2, seed chosen on eval AUC ({chosen})"] = {split: dcn[chosen][split] for split in ("eval", "test")}

    report = {"rows": args.rows, "positive_rate": args.positive_rate,
              "split_rows": {k: len(v) for k, v in rows.items()},
              "test_positive_rate": float(labels["test"].mean()), "model": model.to_dict(),
              "dcn_runs": dcn, "lr_by_c": lr, "results": results}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"report: {os.path.join(args.out, 'report.json')}")
    print("\n| model | eval AUC | eval logloss | test AUC | test logloss |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['eval']['auc']:.4f} | {r['eval']['logloss']:.4f} "
              f"| {r['test']['auc']:.4f} | {r['test']['logloss']:.4f} |")


if __name__ == "__main__":
    main()
