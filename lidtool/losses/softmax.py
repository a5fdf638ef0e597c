"""Plain classifier heads: an affine layer whose outputs go into softmax cross-entropy.

``softmax``: ``W e + b`` (the usual output layer of an x-vector network).
``linear``:  ``W e`` without bias (for back-ends that want a pure projection).
Neither has a margin, so ``schedulable`` is empty and labels do not change the logits.
"""
from __future__ import annotations

import torch
from torch import nn

from lidtool.losses.base import ClassifierHead, register_head


@register_head("softmax")
class SoftmaxHead(ClassifierHead):
    """Affine output layer with bias."""

    def __init__(self, in_dim: int, num_classes: int, bias: bool = True):
        super().__init__(in_dim, num_classes)
        self.fc = nn.Linear(in_dim, num_classes, bias=bias)

    def compute_logits(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                       **aux) -> torch.Tensor:
        return self.fc(emb)


@register_head("linear")
class LinearHead(SoftmaxHead):
    """Affine output layer without bias."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__(in_dim, num_classes, bias=False)
