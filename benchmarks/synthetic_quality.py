"""DCN-V2 against the Bayes-optimal predictor and simple baselines, on
generated data whose true click probabilities are known.

Generates train / eval / test as three seeds of the same hidden click model
(`data/train`, `data/eval`, `data/test`: the pipeline keeps these splits),
runs the whole pipeline once per DCN-V2 training seed (Transform and
everything before it is cached after the first), and scores on eval and test:
- Bayes-optimal: the rows' true probabilities;
- constant CTR: the training positive rate;
- logistic regression on main effects (hashed one-hot, benchmarks/baselines.py),
  its L2 strength C chosen on the eval rows' logloss;
- the DCN-V2 of each training seed with the default settings (sized to the
  data, models/sizing.py; the epoch of best eval AUC; Platt calibration on
  eval), through its serving signature: calibrated (`probability`) and before
  calibration (`model_logit`); their means over seeds, and the spread of the
  test calibration (mean prediction / mean label) before and after.

Usage: .venv/bin/python benchmarks/synthetic_quality.py --rows 200000 --positive-rate 0.03 --out /tmp/quality
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
from models.criteo_rows import read_rows  # noqa: E402
from models.hparams import ModelConfig  # noqa: E402
from models.serving_contract import MODEL_LOGIT_KEY, PROBABILITY_KEY  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from sparsectr.run import run  # noqa: E402
from sparsectr.serving import predict_outputs  # noqa: E402
from synthetic import generator  # noqa: E402

LR_C_GRID = (0.03, 0.1, 0.3, 1.0)


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--positive-rate", type=float, default=0.03)
    parser.add_argument("--out", default="/tmp/sparsectr-quality")
    parser.add_argument("--batch-size", type=int, default=None, help="default: sized (models/sizing.py)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2,3,4", help="DCN-V2 training seeds (Transform is shared)")
    args = parser.parse_args()

    files = generator.generate_splits(os.path.join(args.out, "data"), args.rows, args.positive_rate)
    paths = {split: rows_file for split, (rows_file, _) in files.items()}
    rows = {split: read_rows(paths[split]) for split in files}
    labels = {split: baselines.labels(rows[split]) for split in ("eval", "test")}

    def scores(predict) -> dict[str, dict[str, float]]:
        return {split: _scores(labels[split], predict(split)) for split in ("eval", "test")}

    results = {}
    dcn, uncalibrated, calibration = {}, {}, {}
    for seed in (int(s) for s in args.seeds.split(",")):
        model = ModelConfig(batch_size=args.batch_size, epochs=args.epochs, seed=seed)
        config = PipelineConfig(data=os.path.join(args.out, "data"), output_dir=os.path.join(args.out, "run"),
                                model=model)
        with component_progress():
            summary = run(config)
        if not summary["ok"]:
            raise SystemExit(summary["error"])
        outputs = {split: predict_outputs(summary["trained_model"], rows[split]) for split in ("eval", "test")}
        dcn[seed] = scores(lambda split: outputs[split][PROBABILITY_KEY])
        uncalibrated[seed] = scores(lambda split: 1 / (1 + np.exp(-outputs[split][MODEL_LOGIT_KEY])))
        calibration[seed] = {  # mean prediction / mean label on test, before and after calibration
            "before": float(np.mean(1 / (1 + np.exp(-outputs["test"][MODEL_LOGIT_KEY]))) / labels["test"].mean()),
            "after": float(np.mean(outputs["test"][PROBABILITY_KEY]) / labels["test"].mean())}
        dcn[seed]["training"] = summary["training"]
        dcn[seed]["sized"] = {k: summary["model_config"][k] for k in summary["training_data"]["sized"]}
        dcn[seed]["in_run_baseline_test"] = summary.get("baseline")

    train_rate = float(baselines.labels(rows["train"]).mean())
    results["bayes_optimal"] = scores(lambda split: generator.read_truth(files[split][1]))
    results["constant_ctr"] = scores(lambda split: np.full(len(rows[split]), train_rate))
    lr = {c: scores(lambda split: baselines.fit_predict_logistic(rows["train"], rows[split], c=c)) for c in LR_C_GRID}
    best_c = min(lr, key=lambda c: lr[c]["eval"]["logloss"])
    results[f"logistic regression, main effects (C={best_c}, chosen on eval logloss)"] = lr[best_c]
    for name, runs in (("DCN-V2 with defaults (Platt-calibrated)", dcn), ("DCN-V2 before calibration", uncalibrated)):
        for seed, r in runs.items():
            results[f"{name}, training seed {seed}"] = {split: r[split] for split in ("eval", "test")}
        results[f"**{name}, mean over seeds**"] = {
            split: {m: float(np.mean([r[split][m] for r in runs.values()])) for m in ("auc", "logloss")}
            for split in ("eval", "test")}
    spread = {when: [c[when] for c in calibration.values()] for when in ("before", "after")}

    report = {"rows": args.rows, "positive_rate": args.positive_rate,
              "split_rows": {k: len(v) for k, v in rows.items()},
              "test_positive_rate": float(labels["test"].mean()), "model": model.to_dict(),
              "dcn_runs": dcn, "lr_by_c": lr, "results": results, "test_calibration": calibration}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"report: {os.path.join(args.out, 'report.json')}")
    print("\n| model | eval AUC | eval logloss | test AUC | test logloss |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['eval']['auc']:.4f} | {r['eval']['logloss']:.4f} "
              f"| {r['test']['auc']:.4f} | {r['test']['logloss']:.4f} |")
    print("\ntest calibration (mean prediction / mean label) per seed:")
    for when, values in spread.items():
        print(f"{when} calibration: {', '.join(f'{v:.3f}' for v in values)}; "
              f"range {min(values):.3f}-{max(values):.3f}, "
              f"sd {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}")


if __name__ == "__main__":
    main()
