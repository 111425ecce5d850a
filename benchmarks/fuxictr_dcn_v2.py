"""The peer a researcher would run instead of this product: the paper's DCN-V2 in PyTorch, built from
the `fuxictr` package's layers (the paper's official code is a trimmed FuxiCTR) and trained by
FuxiCTR's own `BaseModel.train_step` (BCE on the sigmoid output + the embedding regularizer,
backward, gradient-norm clipping at 10, Adam).

The model follows FuxiCTR's DCNv2 in its parallel structure: one embedding per field, flattened;
CrossNetV2 (x_{l+1} = x0 * (W x_l + b) + x_l) beside an MLP_Block; concatenated into one Linear.
Only in the optional `.[bench]` extra (benchmarks/trainer_vs_peers.py); never imported by the product.
"""
from __future__ import annotations

import collections
import tempfile

import numpy as np
import torch
from fuxictr.pytorch.layers import CrossNetV2, FeatureEmbedding, MLP_Block
from fuxictr.pytorch.models import BaseModel
from torch import nn

LABEL = "label"


class FeatureMap:
    """The part of FuxiCTR's FeatureMap its layers and BaseModel read: categorical fields and their
    vocabulary sizes; a batch is one int64 tensor [batch, fields + 1], the label last."""

    def __init__(self, vocabulary_sizes: dict[str, int]):
        self.dataset_id = "trainer_vs_peers"
        self.features = collections.OrderedDict(
            (name, {"type": "categorical", "vocab_size": size, "source": ""})
            for name, size in vocabulary_sizes.items())
        self.labels = [LABEL]
        self._columns = {name: i for i, name in enumerate([*vocabulary_sizes, LABEL])}

    def get_column_index(self, name: str) -> int:
        return self._columns[name]


class DCNv2(BaseModel):
    def __init__(self, feature_map: FeatureMap, embedding_dim: int, cross_layers: int, dnn_units: tuple[int, ...],
                 dropout: float, embedding_regularizer: float, learning_rate: float):
        super().__init__(feature_map, model_id="DCNv2", gpu=-1, embedding_regularizer=embedding_regularizer,
                         verbose=0, model_root=tempfile.gettempdir(), metrics=["logloss", "AUC"])
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        input_dim = embedding_dim * len(feature_map.features)
        self.crossnet = CrossNetV2(input_dim, cross_layers)
        self.parallel_dnn = MLP_Block(input_dim=input_dim, hidden_units=list(dnn_units), hidden_activations="ReLU",
                                      dropout_rates=dropout)
        self.fc = nn.Linear(input_dim + dnn_units[-1], 1)
        self.compile("adam", "binary_crossentropy", learning_rate)
        self.reset_parameters()
        self.model_to_device()
        self._max_gradient_norm = 10.0  # BaseModel.fit's default, which train_step reads

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        x0 = self.embedding_layer(self.get_inputs(inputs), flatten_emb=True)
        top = torch.cat([self.crossnet(x0), self.parallel_dnn(x0)], dim=-1)
        return {"y_pred": self.output_activation(self.fc(top))}


def batch_tensor(ids: dict[str, np.ndarray], label: np.ndarray, names: list[str]) -> torch.Tensor:
    """One FuxiCTR batch: the fields' ids in `names` order, then the label."""
    return torch.from_numpy(np.stack([*(ids[n] for n in names), label.reshape(-1)], axis=1).astype(np.int64))
