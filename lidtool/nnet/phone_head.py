"""Frame-level phoneme classifier M_p for multi-task LID (METHODS.md section 2).

It sits on a frame layer of the shared TDNN encoder M_e (``Backbone.forward_frames``) and
classifies every frame into one of ``num_phones`` "virtual phoneme" classes (the pdf-ids of
a phone recogniser's decoding). Each hidden layer is a per-frame affine (1x1 convolution)
-> ReLU -> BatchNorm, the same order as the TDNN frame layers; the last layer is a plain
affine to the phone logits. Input [B, C, T] (the encoder's layout), output [B, T, P].

The branch exists only during training: the multi-task strategy owns it, so the LID model
(and final.pt) never contains its parameters.
"""
from __future__ import annotations

import torch
from torch import nn


class PhoneClassifier(nn.Module):
    def __init__(self, in_dim: int, num_phones: int, hidden=(512,)):
        super().__init__()
        if int(num_phones) < 2:
            raise ValueError(f"need at least 2 phone classes, got {num_phones}")
        hidden = list(hidden)
        if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden must be a list of positive ints, got {hidden!r}")
        layers, dim = [], int(in_dim)
        for width in hidden:
            layers += [nn.Conv1d(dim, width, 1), nn.ReLU(), nn.BatchNorm1d(width)]
            dim = width
        layers.append(nn.Conv1d(dim, int(num_phones), 1))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.num_phones = int(in_dim), int(num_phones)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 3 or frames.shape[1] != self.in_dim:
            raise ValueError(f"frames must be [B, {self.in_dim}, T], got {tuple(frames.shape)}")
        return self.net(frames).transpose(1, 2)
