"""components/run_settings: a run's model settings and blessing thresholds reach the stock
Transform, Trainer and Evaluator executors through their custom_config and eval_config."""
from __future__ import annotations

import json

import pytest
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.orchestration.data_types import RuntimeParameter
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.run_settings.component import Evaluator, Trainer, Transform
from components.run_settings.executor import apply_blessing_settings, apply_model_settings
from components.run_settings.spec import TUNED_ALPHA
from evaluation.config import eval_config
from evaluation.thresholds import BlessingThresholds
from models.hparams import MODEL_CONFIG_KEY, TRANSFORM_FIELDS, ModelConfig, default_alpha

CUSTOM_CONFIG = standard_component_specs.CUSTOM_CONFIG_KEY
EVAL_CONFIG = standard_component_specs.EVAL_CONFIG_KEY


def _trainer_properties(**settings) -> dict:
    compiled = ModelConfig(loss="bce", beta=1.0, epochs=10, seed=0).to_custom_config()
    return {CUSTOM_CONFIG: json.dumps({**compiled, "holdout": 0.1}), "run_fn": "models.trainer.run_fn", **settings}


def test_model_settings_replace_the_compiled_ones_and_leave_the_rest():
    out = apply_model_settings(_trainer_properties(loss="combined_pair", alpha=TUNED_ALPHA, beta=0.25, epochs=3,
                                                   seed=7))
    assert set(out) == {CUSTOM_CONFIG, "run_fn"}  # the settings do not reach the stock executor as properties
    custom_config = json.loads(out[CUSTOM_CONFIG])
    assert custom_config["holdout"] == 0.1
    model = ModelConfig.from_custom_config(custom_config)
    assert (model.loss, model.beta, model.epochs, model.seed) == ("combined_pair", 0.25, 3, 7)
    # TUNED_ALPHA: the run's loss's tuned value at the run's beta, not the compiled BCE's alpha.
    assert model.alpha is None and model.effective_alpha == default_alpha("combined_pair", 0.25)
    assert model.learning_rate == ModelConfig().learning_rate and model.dnn_units == ModelConfig().dnn_units
    given = ModelConfig.from_custom_config(json.loads(apply_model_settings(
        _trainer_properties(loss="combined_pair", alpha=0.3))[CUSTOM_CONFIG]))
    assert given.alpha == 0.3


def test_no_settings_change_nothing_and_a_transform_keeps_its_fields():
    properties = _trainer_properties()
    assert apply_model_settings(properties) == properties
    transform = {CUSTOM_CONFIG: json.dumps(ModelConfig().to_custom_config(TRANSFORM_FIELDS))}
    model = json.loads(apply_model_settings({**transform, "beta": 0.1})[CUSTOM_CONFIG])[MODEL_CONFIG_KEY]
    assert set(model) == set(TRANSFORM_FIELDS) and model["beta"] == 0.1


@pytest.mark.parametrize("settings,message", [
    ({"beta": 1.5}, "beta"),
    ({"loss": "nope", "alpha": TUNED_ALPHA}, "loss"),
    ({"loss": "combined_pair"}, "alpha"),  # a compiled alpha belongs to the compiled loss
    ({"epochs": 0}, "epochs"),
])
def test_bad_model_settings_fail_naming_the_setting(settings, message):
    with pytest.raises(ValueError, match=message):
        apply_model_settings(_trainer_properties(**settings))


def test_blessing_settings_give_the_eval_config_of_those_thresholds():
    compiled = proto_utils.proto_to_json(eval_config((), BlessingThresholds()))
    out = apply_blessing_settings({EVAL_CONFIG: compiled, "min_auc": 0.7, "auc_tolerance": 0.02,
                                   "logloss_tolerance": 0.005})
    expected = eval_config((), BlessingThresholds(min_auc=0.7, auc_tolerance=0.02, logloss_tolerance=0.005))
    assert proto_utils.json_to_proto(out[EVAL_CONFIG], tfma.EvalConfig()) == expected
    assert expected != eval_config((), BlessingThresholds())
    with pytest.raises(ValueError, match="together"):
        apply_blessing_settings({EVAL_CONFIG: compiled, "min_auc": 0.7})
    reference = proto_utils.proto_to_json(eval_config(()))
    with pytest.raises(ValueError, match="no\\b|none|found them"):
        apply_blessing_settings({EVAL_CONFIG: reference, "min_auc": 0.7, "auc_tolerance": 0.02,
                                 "logloss_tolerance": 0.005})


def test_components_carry_the_settings_as_execution_properties():
    examples = tfx.dsl.Channel(type=standard_artifacts.Examples)
    beta = RuntimeParameter(name="beta", ptype=float, default=1.0)
    kwargs = dict(run_fn="models.trainer.run_fn", examples=examples, custom_config={"model": {}})
    trainer = Trainer(settings={"beta": beta, "epochs": 2}, **kwargs)
    stock = tfx.components.Trainer(**kwargs)
    assert trainer.exec_properties == {**stock.exec_properties, "beta": beta, "epochs": 2}
    assert set(trainer.outputs) == set(stock.outputs) and trainer.outputs["model"].producer_component_id == trainer.id
    assert Trainer(**kwargs).exec_properties == stock.exec_properties
    with pytest.raises(ValueError, match="min_auc"):
        Trainer(settings={"min_auc": 0.5}, **kwargs)
    transform = Transform(settings={"beta": 0.5}, examples=examples,
                          schema=tfx.dsl.Channel(type=standard_artifacts.Schema), preprocessing_fn="m.f")
    assert transform.exec_properties["beta"] == 0.5
    evaluator = Evaluator(settings={"min_auc": 0.6}, examples=examples,
                          model=tfx.dsl.Channel(type=standard_artifacts.Model))
    assert evaluator.exec_properties["min_auc"] == 0.6
