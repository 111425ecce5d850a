"""The fail-closed checks (evaluation/model_checks.py) on hand-made evaluations, histories and
calibrations: each refuses exactly beyond its bound, is skipped without its input, and can be
relaxed; the Evaluator's executor turns a refused blessing into NOT_BLESSED."""
from __future__ import annotations

import json
import math
import os

from tfx.components.evaluator import constants
from tfx.types import standard_artifacts, standard_component_specs

from components.run_settings import executor
from components.run_settings.spec import MODEL_RUN_KEY, REFERENCE_EVALUATION_KEY
from evaluation.model_checks import check_model
from evaluation.thresholds import ModelChecks

CHECKS = ModelChecks()
BASELINE = {"auc": 0.76, "auc_standard_error": 0.012, "weighted_binary_crossentropy": 0.45}


def _evaluation(auc: float, loss: float = 0.45, se: float = 0.016) -> dict[str, float]:
    return {"auc": auc, "auc_standard_error": se, "weighted_binary_crossentropy": loss}


def _rules(**kwargs) -> list[str]:
    return [r.rule for r in check_model(CHECKS, **kwargs)]


def test_baseline_auc_refuses_beyond_z_standard_errors_of_the_difference():
    se = math.hypot(0.016, 0.012)  # 0.02
    assert _rules(evaluation=_evaluation(0.76 - 0.99 * se), baseline=BASELINE) == []
    assert _rules(evaluation=_evaluation(0.76 - 1.01 * se), baseline=BASELINE) == ["baseline_auc"]
    relaxed = ModelChecks(baseline_auc_z=math.inf)
    assert check_model(relaxed, _evaluation(0.5), baseline=BASELINE) == []
    assert _rules(evaluation=_evaluation(math.nan), baseline=BASELINE) == ["baseline_auc"]


def test_baseline_logloss_refuses_beyond_its_margin():
    assert _rules(evaluation=_evaluation(0.77, 0.45 * 1.049), baseline=BASELINE) == []
    refusals = check_model(CHECKS, _evaluation(0.77, 0.45 * 1.051), baseline=BASELINE)
    assert [r.rule for r in refusals] == ["baseline_logloss"] and "5% of it" in refusals[0].message
    assert _rules(evaluation=_evaluation(0.77, math.nan), baseline=BASELINE) == ["baseline_logloss"]
    assert check_model(ModelChecks(baseline_logloss_margin=math.inf), _evaluation(0.77, 9.0), baseline=BASELINE) == []


def test_loss_growth_and_a_degenerate_platt_scale_mean_divergence():
    ok = _evaluation(0.8)
    assert _rules(evaluation=ok, history={"loss": [0.9, 0.5, 1.79]}) == []
    assert _rules(evaluation=ok, history={"loss": [0.9, 0.5, 1.81]}) == ["loss_growth"]
    assert _rules(evaluation=ok, history={"loss": [0.9, math.inf]}) == ["loss_growth"]
    assert _rules(evaluation=ok, history={"loss": [5e16]}) == []  # one epoch: nothing to compare
    for scale, refused in ((0.1, False), (0.0999, True), (1e-18, True), (-0.8, True), (1.3, False)):
        assert _rules(evaluation=ok, calibration={"kind": "platt", "scale": scale, "shift": 0.0}) == (
            ["platt_scale"] if refused else []), scale
    assert _rules(evaluation=ok, calibration={"kind": "isotonic", "logits": [0.0], "probabilities": [0.3]}) == []
    assert check_model(ModelChecks(min_platt_scale=-math.inf), ok, calibration={"kind": "platt", "scale": -3.0}) == []


def test_a_check_without_its_input_is_skipped():
    assert check_model(CHECKS, _evaluation(0.1, 99.0)) == []


def _artifact(kind, uri: str):
    artifact = kind()
    artifact.uri = uri
    os.makedirs(uri, exist_ok=True)
    return artifact


def test_the_evaluator_turns_a_refused_blessing_into_not_blessed(tmp_path, monkeypatch):
    """What the stock executor blessed is refused when a check fails; the refusals are recorded."""
    model = _artifact(standard_artifacts.Model, str(tmp_path / "model"))
    extra = tmp_path / "model" / "Format-Serving" / "assets.extra"
    extra.mkdir(parents=True)
    (extra / "model_config.json").write_text(json.dumps({"training": {"calibration": {"kind": "platt", "scale": 1e-9,
                                                                                      "shift": 0.0}}}))
    run_dir = _artifact(standard_artifacts.ModelRun, str(tmp_path / "run"))
    (tmp_path / "run" / "history.json").write_text(json.dumps({"loss": [0.5, 0.4]}))
    reference = _artifact(standard_artifacts.ModelEvaluation, str(tmp_path / "reference"))
    evaluation = _artifact(standard_artifacts.ModelEvaluation, str(tmp_path / "evaluation"))
    blessing = _artifact(standard_artifacts.ModelBlessing, str(tmp_path / "blessing"))
    (tmp_path / "blessing" / constants.BLESSED_FILE_NAME).write_text("")
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, constants.BLESSED_VALUE)
    metrics = {str(tmp_path / "evaluation"): _evaluation(0.6), str(tmp_path / "reference"): BASELINE}
    monkeypatch.setattr(executor, "slice_metrics", lambda uri: {"overall": metrics[uri]})

    refusals = executor.apply_model_checks(
        CHECKS, {standard_component_specs.MODEL_KEY: [model], REFERENCE_EVALUATION_KEY: [reference],
                 MODEL_RUN_KEY: [run_dir]},
        {standard_component_specs.BLESSING_KEY: [blessing], standard_component_specs.EVALUATION_KEY: [evaluation]})
    assert [r.rule for r in refusals] == ["baseline_auc", "platt_scale"]
    assert blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY) == constants.NOT_BLESSED_VALUE
    assert sorted(os.listdir(tmp_path / "blessing")) == [constants.NOT_BLESSED_FILE_NAME, executor.REFUSALS_FILE]
    assert executor.read_refusals(str(tmp_path / "blessing")) == refusals
