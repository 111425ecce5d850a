"""`sparsectr run`: the whole pipeline with one command, and its summary.

Without `--data` it first generates the default synthetic dataset (sized so
the run takes a few minutes on 2 cores). The summary is read back from this
run's outputs (never an earlier run's): rows per split, rejects, anomalies, the training curve's
end points, the evaluation metrics, the blessing and the pushed model.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any, Optional

from tfx import v1 as tfx

from evaluation.results import OVERALL, WEIGHTED_LOGLOSS, format_table, sparsity_description, sparsity_rows
from models.run_files import TENSORBOARD_DIR, TRAINING_KEY
from models.trainer import best_epoch
from components.run_settings.executor import read_refusals
from pipeline.config import PipelineConfig
from pipeline.errors import describe_error
from pipeline.pipeline import create_pipeline
from pipeline.run_result import RunResult, execution_mark, open_store, read_run
from sparsectr.check_data import data_report, format_data_report

DEFAULT_ROWS = 200_000
DEFAULT_POSITIVE_RATE = 0.03
DEFAULT_SEED = 0


def default_dataset_path(output_dir: str) -> str:
    """Where `sparsectr run` without --data writes the default synthetic dataset."""
    return os.path.join(output_dir, "data", f"synthetic_{DEFAULT_ROWS}_{DEFAULT_POSITIVE_RATE}.tsv")


def default_dataset(output_dir: str, progress=None) -> str:
    """Generates (once) the default synthetic dataset under `output_dir/data`."""
    from synthetic import generator

    path = default_dataset_path(output_dir)
    if not os.path.exists(path):
        generator.generate_to_path(DEFAULT_ROWS, DEFAULT_POSITIVE_RATE, DEFAULT_SEED, path, with_truth=True,
                                   progress=progress)
    return path


def run_pipeline(config: PipelineConfig, runner: str = "local", factory=create_pipeline) -> None:
    """Runs the pipeline `factory` builds from `config` (pipeline/pipeline.py)."""
    if runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        BeamDagRunner().run(factory(config))
    else:
        tfx.orchestration.LocalDagRunner().run(factory(config))


def training_summary(history: dict[str, list[float]], monitor: str) -> dict[str, Any]:
    """End points of each training curve, and the epoch early stopping kept
    (the best validation `monitor`: its weights are restored before export)."""
    epochs = len(history["loss"])
    best = best_epoch(history, monitor) if history.get(f"val_{monitor}") else epochs - 1
    return {"epochs": epochs, "best_epoch": best + 1,
            "curves": {k: {"first": v[0], "best": v[best], "last": v[-1]} for k, v in history.items()}}


def collect_summary(config: PipelineConfig, result: RunResult) -> dict[str, Any]:
    """What this run produced (only this run: pipeline/run_result.py), as the JSON summary gives it."""
    summary = data_report(result)
    summary["data"] = config.data
    summary["max_reject_fraction"] = config.max_reject_fraction
    summary["model_config"] = config.model.to_dict()
    summary["alpha_source"] = config.model.alpha_source()
    summary["min_slice_size"] = config.min_slice_size
    summary["output_dir"] = config.output_dir
    trained = result.trained_config()
    if trained:
        summary["trained_model"] = result.serving_model_dir
        summary["training_data"] = trained.pop(TRAINING_KEY, None)
        summary["model_config"] = trained
    history = result.history()
    if history:
        summary["training"] = training_summary(history, config.model.monitor)
    if result.model_run_dir:
        summary["tensorboard_dir"] = os.path.join(result.model_run_dir, TENSORBOARD_DIR)
    if result.evaluation_dir:
        slices = result.evaluation(config.min_slice_size)
        summary["evaluation"] = slices.pop(OVERALL, {})
        summary["evaluation_slices"] = slices
        summary["evaluation_dir"] = result.evaluation_dir
        summary["evaluation_split"] = config.evaluation_split()
        if result.blessed is not None:
            summary["blessed"] = result.blessed
            summary["refused_by"] = [dataclasses.asdict(r) for r in read_refusals(result.blessing_dir)]
    if result.baseline_evaluation_dir:
        summary["baseline"] = result.baseline_evaluation()
    if result.pushed_model:
        summary["pushed_model"] = result.pushed_model
    return summary


def beats_baseline(evaluation: dict[str, float], baseline: dict[str, float]) -> dict[str, bool]:
    """Whether the model is better than the logistic-regression baseline on AUC and on weighted logloss."""
    return {"auc": evaluation["auc"] > baseline["auc"],
            "logloss": evaluation[WEIGHTED_LOGLOSS] < baseline[WEIGHTED_LOGLOSS]}


def baseline_comparison(evaluation: dict[str, float], baseline: dict[str, float], split: str) -> str:
    """The baseline's metrics beside the model's, with a warning when the model does not beat it."""
    line = (f"logistic-regression baseline on {split} (same rows, models/baseline.py): AUC {baseline['auc']:.4f}, "
            f"logloss weighted {baseline[WEIGHTED_LOGLOSS]:.4f}, "
            f"calibration {baseline.get('calibration', float('nan')):.3f}")
    beats = beats_baseline(evaluation, baseline)
    if all(beats.values()):
        return line + (f"; the DCN-V2 beats it: AUC {evaluation['auc'] - baseline['auc']:+.4f}, logloss "
                       f"{evaluation[WEIGHTED_LOGLOSS] - baseline[WEIGHTED_LOGLOSS]:+.4f}")
    lost = " and ".join(name for name, won in beats.items() if not won)
    return (line + f"\nWARNING: the DCN-V2 does not beat the logistic-regression baseline on {lost} "
            f"(AUC {evaluation['auc']:.4f} vs {baseline['auc']:.4f}, logloss {evaluation[WEIGHTED_LOGLOSS]:.4f} vs "
            f"{baseline[WEIGHTED_LOGLOSS]:.4f}): the simpler model predicts these rows better. Check the data "
            f"size and settings (docs/PERFORMANCE.md: settings sized to the data), or serve the baseline.")


SIZED_LABELS = {"batch_size": "batch", "embedding_l2": "embedding L2", "dropout": "dropout",
                "categorical_min_count": "vocabulary min count"}


def format_summary(summary: dict[str, Any]) -> str:
    lines = [format_data_report(summary)]
    model = summary["model_config"]
    lines.append(f"model: DCN-V2 ({model['structure']}), loss {model['loss']}, alpha {model['alpha']:g} "
                 f"({summary['alpha_source']}), beta {model['beta']:g}")
    data = summary.get("training_data")
    if data:
        sized = ", ".join(f"{SIZED_LABELS[name]} {model[name]:.3g}" if isinstance(model[name], float)
                          else f"{SIZED_LABELS[name]} {model[name]}" for name in data["sized"])
        lines.append(f"trained on {data['examples']:,} rows ({data['positives']:,} positives), validated on "
                     f"{data['validation']}" + (f"; sized to them (models/sizing.py): {sized}" if sized else ""))
        calibration = data.get("calibration")
        if calibration:
            fitted = (f"scale {calibration['scale']:.3f}, shift {calibration['shift']:+.3f}"
                      if calibration["kind"] == "platt" else f"{len(calibration['logits'])} steps")
            lines.append(f"calibration: {calibration['kind']} ({fitted}), fitted on {calibration['rows']:,} "
                         "validation rows, in the serving signatures")
    training = summary.get("training")
    if training:
        parts = [f"{k} {v['first']:.4f} -> {v['last']:.4f} (kept {v['best']:.4f})"
                 for k, v in training["curves"].items() if k != "lr"]
        lines.append(f"training ({training['epochs']} epochs, weights of epoch {training['best_epoch']} kept): "
                     + "; ".join(parts))
    evaluation = summary.get("evaluation")
    if evaluation:
        ev = evaluation
        lines.append(
            f"evaluation on {summary['evaluation_split']} ({ev.get('example_count', 0):,.0f} examples): "
            f"AUC {ev.get('auc', float('nan')):.4f}, "
            f"logloss weighted {ev.get(WEIGHTED_LOGLOSS, float('nan')):.4f}, "
            f"unweighted {ev.get('binary_crossentropy', float('nan')):.4f}, "
            f"calibration (mean prediction / mean label) {ev.get('calibration', float('nan')):.3f}"
        )
        baseline = summary.get("baseline")
        if baseline:
            lines.append(baseline_comparison(ev, baseline, summary["evaluation_split"]))
        lines.append(f"by sparsity bucket ({sparsity_description(model)}):")
        slices = summary.get("evaluation_slices", {})
        lines.append(format_table(sparsity_rows(slices, model["sparsity_boundaries"]), summary["min_slice_size"]))
        for feature in model.get("slice_features", ()):
            count = sum(name.startswith(f"{feature}=") for name in slices)
            lines.append(f"slices by {feature}: {count} values (`sparsectr report {summary['output_dir']}` prints them)")
    if "blessed" in summary:
        lines.append("model: " + ("BLESSED" if summary["blessed"] else "NOT blessed (not pushed)"))
        lines.extend(f"  refused by {r['rule']}: {r['message']}" for r in summary.get("refused_by", []))
    if summary.get("pushed_model"):
        lines.append(f"pushed model: {summary['pushed_model']}")
    if summary.get("tensorboard_dir"):
        lines.append(f"TensorBoard: tensorboard --logdir {summary['tensorboard_dir']}")
    if summary.get("error"):
        lines.append("error: " + summary["error"])
    return "\n".join(lines)


def run(config: PipelineConfig, runner: str = "local") -> dict[str, Any]:
    error: Optional[str] = None
    store = open_store(config.metadata_path)
    mark = execution_mark(store)
    started = datetime.datetime.now().replace(microsecond=0)  # run ids are local times (pipeline/run_result.py)
    try:
        run_pipeline(config, runner)
    except Exception as e:  # reported in the summary; the exit code follows
        error = describe_error(e)
    summary = collect_summary(config, read_run(store, mark, config.pipeline_root, started))
    summary["error"] = error
    summary["ok"] = error is None
    return summary
