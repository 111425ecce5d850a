"""`sparsectr run`: the whole pipeline with one command, and its summary.

Without `--data` it first generates the default synthetic dataset (sized so
the run takes a few minutes on 2 cores). The summary is read back from the
pipeline's outputs: rows per split, rejects, anomalies, the training curve's
end points, the evaluation metrics, the blessing and the pushed model.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx
from tfx.utils import path_utils

from models.trainer import HISTORY_FILE
from pipeline.config import PipelineConfig
from pipeline.eval_results import OVERALL, format_table, slice_metrics, sparsity_description, sparsity_rows
from pipeline.pipeline import create_pipeline
from sparsectr.check_data import collect_report, format_data_report, latest_artifact_dir

DEFAULT_ROWS = 200_000
DEFAULT_POSITIVE_RATE = 0.03
DEFAULT_SEED = 0
# Model settings of the default run that differ from the SPEC's (which are
# for Criteo_x1's 33M rows): with 200x fewer rows the embedding L2 prior must
# be stronger; 1e-2 was best on validation AUC among 1e-5..3e-2 (docs/PERFORMANCE.md).
DEFAULT_RUN_MODEL = {"embedding_l2": 1e-2}


def default_dataset(output_dir: str, progress=None) -> str:
    """Generates (once) the default synthetic dataset under `output_dir/data`."""
    from sparsectr import synthetic

    path = os.path.join(output_dir, "data", f"synthetic_{DEFAULT_ROWS}_{DEFAULT_POSITIVE_RATE}.tsv")
    if not os.path.exists(path):
        synthetic.generate_to_path(DEFAULT_ROWS, DEFAULT_POSITIVE_RATE, DEFAULT_SEED, path, with_truth=True,
                                   progress=progress)
    return path


def run_pipeline(config: PipelineConfig, runner: str = "local", factory=create_pipeline) -> None:
    """Runs the pipeline `factory` builds from `config` (pipeline/pipeline.py)."""
    if runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        BeamDagRunner().run(factory(config))
    else:
        tfx.orchestration.LocalDagRunner().run(factory(config))


def local_metadata_store(config: PipelineConfig) -> metadata_store.MetadataStore:
    """The pipeline's SQLite ML Metadata store (LocalDagRunner / BeamDagRunner runs)."""
    return metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))


def _latest_artifact(store, type_name: str):
    artifacts = store.get_artifacts_by_type(type_name)
    return max(artifacts, key=lambda a: a.id) if artifacts else None


def training_summary(history: dict[str, list[float]]) -> dict[str, Any]:
    """End points of each training curve, and the epoch early stopping kept
    (the best validation AUC: its weights are restored before export)."""
    epochs = len(history["loss"])
    best = int(np.argmax(history["val_auc"])) if history.get("val_auc") else epochs - 1
    return {"epochs": epochs, "best_epoch": best + 1,
            "curves": {k: {"first": v[0], "best": v[best], "last": v[-1]} for k, v in history.items()}}


def training_history(pipeline_root: str) -> Optional[dict[str, list[float]]]:
    """The latest Trainer run's per-epoch metrics (models/trainer.py writes them), or None."""
    model_run_dir = latest_artifact_dir(pipeline_root, "Trainer", "model_run")
    if not model_run_dir or not os.path.exists(os.path.join(model_run_dir, HISTORY_FILE)):
        return None
    with open(os.path.join(model_run_dir, HISTORY_FILE)) as f:
        return json.load(f)


def collect_summary(config: PipelineConfig) -> dict[str, Any]:
    summary = collect_report(config.pipeline_root)
    summary["data"] = config.data
    summary["max_reject_fraction"] = config.max_reject_fraction
    summary["model_config"] = config.model.to_dict()
    summary["alpha_source"] = config.model.alpha_source()
    summary["min_slice_size"] = config.min_slice_size
    summary["output_dir"] = config.output_dir
    history = training_history(config.pipeline_root)
    if history:
        summary["training"] = training_summary(history)
    model_dir = latest_artifact_dir(config.pipeline_root, "Trainer", "model")
    if model_dir:
        summary["trained_model"] = path_utils.serving_model_path(model_dir)
    evaluation_dir = latest_artifact_dir(config.pipeline_root, "Evaluator", "evaluation")
    if evaluation_dir:
        slices = slice_metrics(evaluation_dir, config.min_slice_size)
        summary["evaluation"] = slices.pop(OVERALL, {})
        summary["evaluation_slices"] = slices
        summary["evaluation_dir"] = evaluation_dir
        summary["evaluation_split"] = config.evaluation_split()
    store = local_metadata_store(config)
    blessing = _latest_artifact(store, "ModelBlessing")
    if blessing is not None:
        summary["blessed"] = bool(blessing.custom_properties["blessed"].int_value)
    pushed = _latest_artifact(store, "PushedModel")
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        summary["pushed_model"] = pushed.custom_properties["pushed_destination"].string_value
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    lines = [format_data_report(summary)]
    model = summary["model_config"]
    lines.append(f"model: DCN-V2 ({model['structure']}), loss {model['loss']}, alpha {model['alpha']:g} "
                 f"({summary['alpha_source']}), beta {model['beta']:g}")
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
            f"logloss weighted {ev.get('weighted_binary_crossentropy', float('nan')):.4f}, "
            f"unweighted {ev.get('binary_crossentropy', float('nan')):.4f}, "
            f"calibration (mean prediction / mean label) {ev.get('calibration', float('nan')):.3f}"
        )
        lines.append(f"by sparsity bucket ({sparsity_description(model)}):")
        slices = summary.get("evaluation_slices", {})
        lines.append(format_table(sparsity_rows(slices, model["sparsity_boundaries"]), summary["min_slice_size"]))
        for feature in model.get("slice_features", ()):
            count = sum(name.startswith(f"{feature}=") for name in slices)
            lines.append(f"slices by {feature}: {count} values (`sparsectr report {summary['output_dir']}` prints them)")
    if "blessed" in summary:
        lines.append("model: " + ("BLESSED" if summary["blessed"] else "NOT blessed (not pushed)"))
    if summary.get("pushed_model"):
        lines.append(f"pushed model: {summary['pushed_model']}")
    if summary.get("error"):
        lines.append("error: " + summary["error"])
    return "\n".join(lines)


def run(config: PipelineConfig, runner: str = "local") -> dict[str, Any]:
    error: Optional[str] = None
    try:
        run_pipeline(config, runner)
    except Exception as e:  # reported in the summary; the exit code follows
        error = f"{type(e).__name__}: {e}"
    summary = collect_summary(config)
    summary["error"] = error
    summary["ok"] = error is None
    return summary
