"""Training losses as tf.keras.losses, looked up by name (docs/SCIENCE.md §3).

Every loss takes labels y in {0, 1} and logits z (shape [N] or [N, 1]) and
per-example weights w through Keras' `sample_weight` (beta for positives, 1 for
negatives, docs/SCIENCE.md §2; all 1 when no weights are given). Conventions:

- BCE is normalised by the batch size N, not by sum(w):
  L_BCE = (1/N) * sum_i w_i * bce(y_i, sigmoid(z_i)).
- A combined loss is alpha * L_BCE + (1 - alpha) * L_rank (alpha = BCE weight).
- The weights enter the listwise denominators (w_k = beta for positives); the
  pairwise term ignores them.
- A batch without positives or without negatives has no pairs: L_rank = 0.

The batch-level terms need the whole batch and its weights at once, so these
losses override `__call__` and return the batch's scalar; they are exact in
float32 and float64 (the dtype of the logits) and finite for logits of +-80.

Model output layout (`models/dcn.py`): column 0 is always the click logit,
p = sigmoid(column 0), so metrics and serving never depend on the loss. JRC's
head has a second column z0 (non-click logit) and column 0 is z1 - z0;
Combined-Contrastive's head appends the L2-normalised projection h.
"""
from __future__ import annotations

from typing import Callable, Optional

import tensorflow as tf

from models.hparams import ModelConfig


JRC_LOSS = "jrc"
CONTRASTIVE_LOSS = "combined_contrastive"
# The output head a loss trains (each loss class's `head`; models/dcn.py builds it).
CLICK_HEAD = "click"  # [N, 1]: the click logit
TWO_LOGIT_HEAD = "click_and_non_click"  # [N, 2]: z1 - z0 and z0 (JRC)
PROJECTION_HEAD = "click_and_projection"  # [N, 1 + projection_dim]: the click logit and the normalised projection


def click_logit(y_pred: tf.Tensor) -> tf.Tensor:
    """[N, 1] click logits from any head's output."""
    return y_pred[:, :1]


def _flat(y_true, y_pred, sample_weight) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(y [N], output [N, K], w [N]) in the output's dtype; [N] outputs become [N, 1]."""
    out = tf.convert_to_tensor(y_pred)
    out = tf.reshape(out, [-1, 1]) if out.shape.rank == 1 else out
    y = tf.cast(tf.reshape(y_true, [-1]), out.dtype)
    w = tf.ones_like(y) if sample_weight is None else tf.cast(tf.reshape(sample_weight, [-1]), out.dtype)
    return y, out, w


def weighted_bce(y: tf.Tensor, z: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """(1/N) * sum_i w_i * bce_i, on logits."""
    return tf.reduce_mean(w * tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z))


def _when_both_classes(y: tf.Tensor, term: Callable[[], tf.Tensor], dtype) -> tf.Tensor:
    positives = tf.reduce_sum(y)
    both = tf.logical_and(positives > 0, positives < tf.cast(tf.size(y), y.dtype))
    return tf.cond(both, term, lambda: tf.zeros([], dtype))


def pairwise_ranknet(y: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """-(1/(N+ N-)) * sum_{i in P, j in Q} log sigmoid(z_i - z_j).

    log sigmoid(z_i - z_j) does not factor over i and j, so the N+ x N- pair
    matrix is the cheapest exact form; only the pairs are built (no N x N)."""
    def term() -> tf.Tensor:
        positive = y > 0.5
        z_pos, z_neg = tf.boolean_mask(z, positive), tf.boolean_mask(z, ~positive)
        return -tf.reduce_mean(tf.math.log_sigmoid(z_pos[:, None] - z_neg[None, :]))
    return _when_both_classes(y, term, z.dtype)


def listwise_softmax(y: tf.Tensor, log_scores: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """mean_{i in P} -log(s_i / D), D = sum_k w_k s_k, with log s given.
    s = e^z is Combined-List; s = sigmoid(z) is RCR."""
    def term() -> tf.Tensor:
        log_d = tf.reduce_logsumexp(log_scores + tf.math.log(w))
        return -tf.reduce_mean(tf.boolean_mask(log_scores, y > 0.5) - log_d)
    return _when_both_classes(y, term, log_scores.dtype)


class _SparseCTRLoss(tf.keras.losses.Loss):
    """Base: alpha and beta recorded in the config; `__call__` gets the batch. `head` is the output
    head the loss needs."""

    head = CLICK_HEAD

    def __init__(self, alpha: float = 1.0, name: Optional[str] = None, **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, **kwargs)
        self.alpha = float(alpha)

    def batch_loss(self, y: tf.Tensor, z: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        """The loss of single-logit heads, from logits z [N]."""
        raise NotImplementedError

    def output_loss(self, y: tf.Tensor, out: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        """The loss from the model's whole output [N, K]; heads with more columns override it."""
        return self.batch_loss(y, out[:, 0], w)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with tf.name_scope(self.name or type(self).__name__):
            return self.output_loss(*_flat(y_true, y_pred, sample_weight))

    def call(self, y_true, y_pred):  # Keras requires it; the scalar comes from __call__
        return self.output_loss(*_flat(y_true, y_pred, None))

    def get_config(self) -> dict:
        return {"name": self.name, "alpha": self.alpha}


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class WeightedBCE(_SparseCTRLoss):
    """Binary cross-entropy on logits, (1/N) sum_i w_i bce_i."""

    def __init__(self, name: str = "bce", **kwargs):
        kwargs.pop("alpha", None)
        super().__init__(alpha=1.0, name=name, **kwargs)

    def batch_loss(self, y, z, w):
        return weighted_bce(y, z, w)

    def get_config(self) -> dict:
        return {"name": self.name}


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class CombinedPair(_SparseCTRLoss):
    """alpha * BCE + (1 - alpha) * RankNet over the batch's positive-negative pairs."""

    def __init__(self, alpha: float, name: str = "combined_pair", **kwargs):
        super().__init__(alpha=alpha, name=name, **kwargs)

    def batch_loss(self, y, z, w):
        return self.alpha * weighted_bce(y, z, w) + (1 - self.alpha) * pairwise_ranknet(y, z)


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class CombinedList(_SparseCTRLoss):
    """alpha * BCE + (1 - alpha) * softmax cross-entropy of the positives over
    the batch, D = beta * sum_P e^z + sum_Q e^z."""

    def __init__(self, alpha: float, name: str = "combined_list", **kwargs):
        super().__init__(alpha=alpha, name=name, **kwargs)

    def batch_loss(self, y, z, w):
        return self.alpha * weighted_bce(y, z, w) + (1 - self.alpha) * listwise_softmax(y, z, w)


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class RCR(_SparseCTRLoss):
    """Combined-List with sigmoid(z) in place of e^z (listwise CE on sigmoid)."""

    def __init__(self, alpha: float, name: str = "rcr", **kwargs):
        super().__init__(alpha=alpha, name=name, **kwargs)

    def batch_loss(self, y, z, w):
        return self.alpha * weighted_bce(y, z, w) + (1 - self.alpha) * listwise_softmax(y, tf.math.log_sigmoid(z), w)


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class Focal(_SparseCTRLoss):
    """Focal BCE (a baseline, not combined: alpha is not used): the BCE term of
    a positive times (1 - p)^gamma, of a negative times p^gamma, the negatives'
    factors rescaled to mean 1 over the batch's negatives. Factors are computed
    in log space, so they stay finite when every p^gamma underflows."""

    def __init__(self, gamma: float = 2.0, name: str = "focal", **kwargs):
        kwargs.pop("alpha", None)
        super().__init__(alpha=1.0, name=name, **kwargs)
        self.gamma = float(gamma)

    def batch_loss(self, y, z, w):
        positive = y > 0.5
        log_factor = tf.where(positive, self.gamma * tf.math.log_sigmoid(-z), self.gamma * tf.math.log_sigmoid(z))
        negatives = tf.reduce_sum(1.0 - y)
        # log of the negatives' mean factor, over negatives only (-inf elsewhere).
        masked = tf.where(positive, tf.constant(-float("inf"), z.dtype), log_factor)
        log_mean = tf.reduce_logsumexp(masked) - tf.math.log(tf.maximum(negatives, 1.0))
        log_mean = tf.where(negatives > 0, log_mean, tf.zeros_like(log_mean))
        factor = tf.exp(tf.where(positive, log_factor, log_factor - log_mean))
        return tf.reduce_mean(w * factor * tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z))

    def get_config(self) -> dict:
        return {"name": self.name, "gamma": self.gamma}


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class JRC(_SparseCTRLoss):
    """JRC: two logits, z1 (click) and z0 (non-click), output columns
    [z1 - z0, z0]. alpha * L_calib + (1 - alpha) * L_rank, where L_calib is the
    weighted BCE of sigmoid(z1 - z0) and L_rank = -mean_i w_i log(e^{z_{y_i}} /
    D_{y_i}), D_c = sum_k w_k e^{zc_k}: each channel is a softmax over the batch."""

    head = TWO_LOGIT_HEAD

    def __init__(self, alpha: float, name: str = JRC_LOSS, **kwargs):
        super().__init__(alpha=alpha, name=name, **kwargs)

    def output_loss(self, y, out, w):
        d, z0 = out[:, 0], out[:, 1]
        z1 = d + z0
        log_w = tf.math.log(w)
        log_d1, log_d0 = tf.reduce_logsumexp(z1 + log_w), tf.reduce_logsumexp(z0 + log_w)
        log_share = tf.where(y > 0.5, z1 - log_d1, z0 - log_d0)
        return self.alpha * weighted_bce(y, d, w) + (1 - self.alpha) * -tf.reduce_mean(w * log_share)


def supervised_contrastive(y: tf.Tensor, h: tf.Tensor, tau: float, anchors: Optional[tf.Tensor] = None) -> tf.Tensor:
    """Mean over anchors i of (-1/|S(i)|) sum_{s in S(i)} log(exp(h_i.h_s/tau) / sum_{a != i} exp(h_i.h_a/tau)),
    S(i) = the other examples of the batch with i's label (an i with empty S(i) adds 0).
    `anchors`: indices of the anchors i; by default every example (the paper's 1/N sum).
    Positive pairs and denominators always run over the whole batch.

    With two classes the positive-pair sum is h_i . (H_{y_i} - h_i), H_c the
    sum of class c's projections, so only the denominators need similarities:
    an [anchors, N] matmul."""
    n = tf.shape(h)[0]
    anchors = tf.range(n) if anchors is None else tf.cast(anchors, tf.int32)
    h_anchor = tf.gather(h, anchors)
    sim = tf.matmul(h_anchor, h, transpose_b=True) / tau
    self_pairs = tf.stack([tf.range(tf.shape(anchors)[0]), anchors], axis=1)
    minus_inf = tf.fill(tf.shape(anchors), tf.constant(-float("inf"), h.dtype))
    self_excluded = tf.tensor_scatter_nd_update(sim, self_pairs, minus_inf)
    log_denominator = tf.reduce_logsumexp(self_excluded, axis=1)
    positive = y > 0.5
    class_sums = [tf.reduce_sum(tf.boolean_mask(h, mask), axis=0) for mask in (positive, ~positive)]
    anchor_positive = tf.gather(positive, anchors)
    same_class_sum = tf.where(anchor_positive[:, None], class_sums[0][None, :], class_sums[1][None, :])
    positives = tf.reduce_sum(tf.cast(positive, h.dtype))
    same = tf.where(anchor_positive, positives, tf.cast(n, h.dtype) - positives) - 1.0  # |S(i)|
    positive_sim = tf.reduce_sum(h_anchor * (same_class_sum - h_anchor), axis=1) / tau
    per_anchor = log_denominator - positive_sim / tf.maximum(same, 1.0)
    return tf.reduce_mean(tf.where(same > 0, per_anchor, tf.zeros_like(per_anchor)))


def sample_anchors(n: tf.Tensor, max_anchors: int) -> Optional[tf.Tensor]:
    """Every example when n <= max_anchors (or max_anchors is 0), else
    max_anchors of them drawn uniformly without replacement: the mean over
    them is an unbiased estimate of the mean over the batch."""
    if not max_anchors:
        return None
    return tf.cond(n > max_anchors, lambda: tf.random.shuffle(tf.range(n))[:max_anchors], lambda: tf.range(n))


@tf.keras.utils.register_keras_serializable(package="sparsectr")
class CombinedContrastive(_SparseCTRLoss):
    """alpha * BCE + (1 - alpha) * supervised contrastive loss on the
    projection head's L2-normalised output h (output columns 1..).

    `anchors` bounds the contrastive term's cost: with more examples than that
    in a batch, the term averages over that many random anchors (the
    denominators still run over the whole batch), an [anchors, N] similarity
    matrix instead of [N, N]. 0 = every example is an anchor."""

    head = PROJECTION_HEAD

    def __init__(self, alpha: float, tau: float = 0.1, anchors: int = 0, name: str = CONTRASTIVE_LOSS,
                 **kwargs):
        super().__init__(alpha=alpha, name=name, **kwargs)
        self.tau = float(tau)
        self.anchors = int(anchors)

    def output_loss(self, y, out, w):
        z, h = out[:, 0], out[:, 1:]
        anchors = sample_anchors(tf.shape(h)[0], self.anchors)
        return self.alpha * weighted_bce(y, z, w) + (1 - self.alpha) * supervised_contrastive(y, h, self.tau, anchors)

    def get_config(self) -> dict:
        return {**super().get_config(), "tau": self.tau, "anchors": self.anchors}


LOSSES: dict[str, Callable[[ModelConfig], tf.keras.losses.Loss]] = {
    "bce": lambda config: WeightedBCE(),
    "combined_pair": lambda config: CombinedPair(alpha=config.effective_alpha),
    "combined_list": lambda config: CombinedList(alpha=config.effective_alpha),
    "rcr": lambda config: RCR(alpha=config.effective_alpha),
    "focal": lambda config: Focal(gamma=config.gamma),
    JRC_LOSS: lambda config: JRC(alpha=config.effective_alpha),
    CONTRASTIVE_LOSS: lambda config: CombinedContrastive(alpha=config.effective_alpha, tau=config.tau,
                                                         anchors=config.contrastive_anchors),
}


def get_loss(config: ModelConfig) -> tf.keras.losses.Loss:
    """The loss `config` names, with its effective alpha (ModelConfig validates the name)."""
    return LOSSES[config.loss](config)
