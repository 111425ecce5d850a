"""Which tf.distribute strategy the Trainer trains under (ModelConfig.distribution).

- "auto": MultiWorkerMirroredStrategy when TF_CONFIG describes a cluster of more than one task
  (what Vertex AI Training, a Kubeflow TFJob or any launcher of N trainer replicas sets up),
  else TensorFlow's default strategy (one process, every core).
- "one_worker": the default strategy, whatever TF_CONFIG says.
- "multi_worker": MultiWorkerMirroredStrategy; an error without a TF_CONFIG cluster.

Every worker runs the same run_fn: each reads every file and keeps its share of each global
batch (tf.data auto-sharding by data), gradients are all-reduced, so the model and the batch
size mean the same as on one worker. Only the chief writes the model and the logs; the others
write to scratch directories that are removed.
"""
from __future__ import annotations

import json
import os

import tensorflow as tf

from models.hparams import DISTRIBUTIONS


def cluster_size() -> int:
    """Tasks in TF_CONFIG's cluster (chief and workers); 0 without TF_CONFIG."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def training_strategy(distribution: str) -> tf.distribute.Strategy:
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution: expected one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    workers = cluster_size()
    if distribution == "multi_worker" and workers < 1:
        raise ValueError("distribution multi_worker: TF_CONFIG names no cluster. Set TF_CONFIG on every "
                         "worker (https://www.tensorflow.org/guide/distributed_training#TF_CONFIG), or use "
                         "distribution auto or one_worker.")
    if distribution == "multi_worker" or (distribution == "auto" and workers > 1):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The task that writes the model: "chief", else worker 0 of a cluster without a chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def writable_dir(path: str, strategy: tf.distribute.Strategy) -> str:
    """`path` on the chief; a scratch directory beside it on another worker (removed by the caller)."""
    if is_chief(strategy):
        return path
    resolver = strategy.cluster_resolver
    return os.path.join(os.path.dirname(path.rstrip("/")), f"worker_{resolver.task_type}_{resolver.task_id}",
                        os.path.basename(path.rstrip("/")))


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Each worker keeps its share of every batch: Transform writes few files, often fewer than
    workers, so sharding by file would leave some workers idle."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
