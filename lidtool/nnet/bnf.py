"""The bottleneck ("bnf") network: a TDNN frame classifier with a narrow linear layer.

Kaldi's affine -> ReLU -> BatchNorm order: `layers` frame layers of `hidden_dim` channels
(1-D convolutions over time, [kernel, dilation] each; the default [5,1], [3,1], [3,2] sees
frames -5..5) -> a *linear* bottleneck of `bottleneck_dim` -> one more ReLU+BN hidden layer
-> logits over the frame classes (a phone recogniser's pdfs). The bottleneck activations are
the bnf features (lidtool.asr.bnf).

The convolutions are not padded: an input of T + 2 * context frames gives T output frames,
so a training chunk scores only frames with their whole context, and `pad_edges` (repeat the
first and last frame) lets a whole utterance of T frames give T outputs.

The trainer builds it by name (`model.name: bnf`, lidtool.nnet.model.build_model) with the
number of frame classes from the strategy (`frame_ce`, lidtool.train.frame_ce).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

DEFAULT_LAYERS = ((5, 1), (3, 1), (3, 2))


def _frame_layer(in_dim: int, out_dim: int, kernel: int = 1, dilation: int = 1):
    return nn.Sequential(nn.Conv1d(in_dim, out_dim, kernel, dilation=dilation), nn.ReLU(),
                         nn.BatchNorm1d(out_dim))


def check_layers(layers) -> list[list[int]]:
    """[[kernel, dilation], ...] with odd kernels >= 1 and dilations >= 1, else ValueError."""
    try:
        out = [[int(k), int(d)] for k, d in layers]
    except (TypeError, ValueError):
        raise ValueError(f"layers must be [kernel, dilation] pairs, got {layers!r}") from None
    if not out or any(k < 1 or k % 2 == 0 or d < 1 for k, d in out):
        raise ValueError(f"layers need odd kernels >= 1 and dilations >= 1, got {out}")
    return out


class BnfNet(nn.Module):
    """[B, T + 2 * context, D] -> frame logits [B, P, T] (`forward`) or bnf [B, T, Bn]
    (`bottleneck`)."""

    def __init__(self, feat_dim: int, num_classes: int, hidden_dim: int = 256,
                 layers=DEFAULT_LAYERS, bottleneck_dim: int = 40):
        super().__init__()
        layers = check_layers(layers)
        for name, value in (("hidden_dim", hidden_dim), ("bottleneck_dim", bottleneck_dim),
                            ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.context = sum((k - 1) * d for k, d in layers) // 2
        self.bottleneck_dim = bottleneck_dim
        frames, in_dim = [], feat_dim
        for kernel, dilation in layers:
            frames.append(_frame_layer(in_dim, hidden_dim, kernel, dilation))
            in_dim = hidden_dim
        self.frames = nn.Sequential(*frames)
        self.bottleneck_layer = nn.Conv1d(in_dim, bottleneck_dim, 1)   # linear
        self.post = _frame_layer(bottleneck_dim, hidden_dim)
        self.output = nn.Conv1d(hidden_dim, num_classes, 1)

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneck_layer(self.frames(x.transpose(1, 2))).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bottleneck_layer(self.frames(x.transpose(1, 2)))
        return self.output(self.post(h))


def pad_edges(feats: np.ndarray, left: int, right: int) -> np.ndarray:
    """Repeat the first frame `left` times and the last `right` times."""
    if left == 0 and right == 0:
        return feats
    return np.concatenate([np.repeat(feats[:1], left, axis=0), feats,
                           np.repeat(feats[-1:], right, axis=0)])
