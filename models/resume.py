"""Training that survives being killed: a re-run of the same Trainer resumes after its last
finished epoch instead of starting over.

Keras' BackupAndRestore checkpoints the model and the optimizer (learning rate included) at
the end of every epoch and restores them when fit starts again. What it does not keep, this
module keeps beside it: the per-epoch history (the run's history.json covers every epoch, not
only those after the restart) and the early-stopping state (best value, epochs without
improvement, the best epoch's weights), so that early stopping keeps the same epoch as an
uninterrupted run would.

The backup lives outside the execution's own directories, which are new for every execution:
under `<pipeline_root>/<Trainer node>/backup/<fingerprint>`, where the fingerprint covers the
Trainer's inputs and settings. A re-run with the same inputs and settings finds it; any other
Trainer run does not. It is deleted once training ends.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from typing import Any, Optional

import numpy as np
import tensorflow as tf

BACKUP_DIR = "backup"
_CHECKPOINT_DIR = "checkpoint"
_EPOCHS_FILE = "epochs.json"


def backup_dir(model_run_dir: str, fingerprint: dict[str, Any]) -> str:
    """`<pipeline_root>/<node>/backup/<hash of fingerprint>`, from the execution's model_run_dir
    (`<pipeline_root>/<node>/model_run/<execution id>`, TFX's layout)."""
    node_dir = os.path.dirname(os.path.dirname(model_run_dir.rstrip("/")))
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return os.path.join(node_dir, BACKUP_DIR, digest)


class ResumableEarlyStopping(tf.keras.callbacks.EarlyStopping):
    """EarlyStopping whose state, and the history of every epoch, outlive the process.

    After each epoch it writes the epoch's metrics and its own state to `state_dir` (and the
    weights of a new best epoch). When fit starts again at epoch k (BackupAndRestore restored
    epoch k - 1's model), it takes the state as it was after epoch k - 1. `writer`: False on the
    workers of a multi-worker run other than the chief (they share the state directory).
    """

    def __init__(self, state_dir: str, writer: bool = True, **kwargs):
        super().__init__(**kwargs)
        self._dir = state_dir
        self._writer = writer
        self.epochs: list[dict[str, Any]] = []
        self.resumed_at: Optional[int] = None

    def _weights_path(self, epoch: int) -> str:
        return os.path.join(self._dir, f"best_weights_{epoch}.npz")

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        path = os.path.join(self._dir, _EPOCHS_FILE)
        self.epochs = json.loads(tf.io.gfile.GFile(path).read()) if tf.io.gfile.exists(path) else []
        self.resumed_at = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.resumed_at is not None:
            return
        self.resumed_at = epoch
        self.epochs = self.epochs[:epoch]  # epochs after the restored checkpoint ran again
        if epoch and len(self.epochs) == epoch:
            state = self.epochs[-1]["early_stopping"]
            self.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
            if self.restore_best_weights:
                with tf.io.gfile.GFile(self._weights_path(self.best_epoch), "rb") as f:
                    stored = np.load(io.BytesIO(f.read()))
                self.best_weights = [stored[f"w{i}"] for i in range(len(stored.files))]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self.epochs.append({"logs": {k: float(v) for k, v in (logs or {}).items()},
                            "early_stopping": {"best": float(self.best), "wait": self.wait,
                                               "best_epoch": self.best_epoch}})
        if not self._writer:
            return
        tf.io.gfile.makedirs(self._dir)
        if self.restore_best_weights and self.best_epoch == epoch and self.best_weights is not None:
            buffer = io.BytesIO()  # np.savez seeks; remote files (gs://) cannot
            np.savez(buffer, **{f"w{i}": w for i, w in enumerate(self.best_weights)})
            with tf.io.gfile.GFile(self._weights_path(epoch), "wb") as f:
                f.write(buffer.getvalue())
        path = os.path.join(self._dir, _EPOCHS_FILE)
        with tf.io.gfile.GFile(path + ".tmp", "w") as f:
            json.dump(self.epochs, f)
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)

    def history(self) -> dict[str, list[float]]:
        """Every epoch's metrics, those before a restart included (Keras' History has only the later ones)."""
        keys = self.epochs[-1]["logs"].keys() if self.epochs else ()
        return {k: [e["logs"][k] for e in self.epochs] for k in keys}


def resumable_callbacks(state_dir: str, writer: bool = True,
                        **early_stopping) -> tuple[ResumableEarlyStopping, tf.keras.callbacks.BackupAndRestore]:
    """Early stopping whose state outlives the process, then BackupAndRestore. In this order a kill
    between the two leaves the checkpoint one epoch behind the state; the resumed run takes the
    state as of the checkpoint's epoch and trains the next one again."""
    return (ResumableEarlyStopping(state_dir, writer, **early_stopping),
            tf.keras.callbacks.BackupAndRestore(os.path.join(state_dir, _CHECKPOINT_DIR)))
