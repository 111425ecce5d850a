"""Resumable training (models/resume.py) and the choice of tf.distribute strategy
(models/distribute.py). The pipeline-level tests (a killed run, two local workers) are in
tests/test_losses_pipeline.py."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from models import resume
from models.distribute import cluster_size, is_chief, training_strategy, writable_dir
from models.hparams import ModelConfig

EPOCHS = 8


class _Killed(Exception):
    pass


class _KillAfter(tf.keras.callbacks.Callback):
    """Raises at the end of epoch `epoch` (0-based), after every other callback has run."""

    def __init__(self, epoch: int):
        super().__init__()
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self._epoch:
            raise _Killed()


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x @ rng.normal(size=8) + rng.normal(scale=2.0, size=512) > 0).astype("float32")
    return (x[:384], y[:384]), (x[384:], y[384:])


def _fit(state_dir: str, kill_after: int | None = None):
    """A small model trained with the Trainer's resumable callbacks (early stopping on val_loss,
    patience 2); `kill_after`: stop the process there, as a kill would."""
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(1)])
    model.compile(tf.keras.optimizers.Adam(0.01), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    early_stopping, backup = resume.resumable_callbacks(state_dir, monitor="val_loss", patience=2,
                                                         restore_best_weights=True)
    callbacks = [early_stopping, backup] + ([_KillAfter(kill_after)] if kill_after is not None else [])
    (x, y), validation = _data()
    try:
        model.fit(x, y, batch_size=32, epochs=EPOCHS, validation_data=validation, shuffle=False, verbose=0,
                  callbacks=callbacks)
    except _Killed:
        return None, early_stopping
    return model, early_stopping


@pytest.mark.parametrize("kill_after", [1, 3])
def test_a_resumed_fit_ends_where_an_uninterrupted_one_does(tmp_path, kill_after):
    """Killed after epoch `kill_after` + 1 and fitted again from scratch objects: the same history
    (earlier epochs included), the same early-stopping epoch and the same final weights."""
    whole, whole_stopping = _fit(str(tmp_path / "whole"))
    # On these rows early stopping keeps epoch 2 and stops at epoch 4 (0-based): a kill after epoch 1
    # resumes before the best epoch, a kill after epoch 3 after it (its weights come from the file).
    assert whole_stopping.best_epoch < 3 < whole_stopping.stopped_epoch
    state = str(tmp_path / "state")
    _, killed = _fit(state, kill_after)
    with open(os.path.join(state, "epochs.json")) as f:
        assert len(json.load(f)) == kill_after + 1
    resumed, resumed_stopping = _fit(state)
    assert resumed_stopping.resumed_at == kill_after + 1
    assert resumed_stopping.best_epoch == whole_stopping.best_epoch
    assert resumed_stopping.stopped_epoch == whole_stopping.stopped_epoch
    for key, values in whole_stopping.history().items():
        np.testing.assert_allclose(resumed_stopping.history()[key], values, rtol=1e-5, err_msg=key)
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_backup_belongs_to_the_trainer_node_and_to_its_inputs_and_settings():
    run_dir = "/root/pipeline_root/Trainer/model_run/17"
    a = resume.backup_dir(run_dir, {"config": {"loss": "bce"}, "train": ["x"]})
    assert a.startswith("/root/pipeline_root/Trainer/backup/")
    assert a == resume.backup_dir("/root/pipeline_root/Trainer/model_run/18", {"train": ["x"], "config": {"loss": "bce"}})
    assert a != resume.backup_dir(run_dir, {"config": {"loss": "rcr"}, "train": ["x"]})


def test_the_strategy_follows_the_setting_and_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_size() == 0
    assert training_strategy("auto") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="TF_CONFIG names no cluster"):
        training_strategy("multi_worker")
    with pytest.raises(ValueError, match="distribution: expected one of auto, one_worker, multi_worker"):
        ModelConfig(distribution="parameter_server")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
                                                "task": {"type": "worker", "index": 1}}))
    assert cluster_size() == 3
    assert training_strategy("one_worker") is tf.distribute.get_strategy()


class _Resolver:
    def __init__(self, task_type, task_id, cluster):
        self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

    def cluster_spec(self):
        return tf.train.ClusterSpec(self._cluster)


class _Strategy:
    def __init__(self, *resolver):
        self.cluster_resolver = _Resolver(*resolver)


def test_only_the_chief_writes_where_the_pipeline_reads():
    workers = {"worker": ["a:1", "b:1"]}
    with_chief = {"chief": ["c:1"], **workers}
    assert is_chief(tf.distribute.get_strategy())
    assert is_chief(_Strategy("worker", 0, workers)) and not is_chief(_Strategy("worker", 1, workers))
    assert is_chief(_Strategy("chief", 0, with_chief)) and not is_chief(_Strategy("worker", 0, with_chief))
    path = "/root/Trainer/model/5/Format-Serving"
    assert writable_dir(path, _Strategy("worker", 0, workers)) == path
    assert writable_dir(path, _Strategy("worker", 1, workers)) == "/root/Trainer/model/5/worker_worker_1/Format-Serving"
