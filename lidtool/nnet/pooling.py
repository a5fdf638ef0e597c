"""Statistics pooling: frame-level features [B, C, T] -> utterance vector [B, 2C].

The vector is the per-channel mean over time followed by the per-channel standard
deviation (sqrt of the biased variance, floored at `eps` so silence-like constant
channels keep a finite gradient), as in the Kaldi x-vector recipe.
"""
from __future__ import annotations

import torch
from torch import nn


class StatsPooling(nn.Module):
    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"StatsPooling expects [B, C, T], got shape {tuple(x.shape)}")
        mean = x.mean(dim=2)
        var = (x - mean.unsqueeze(2)).pow(2).mean(dim=2)
        std = var.clamp(min=self.eps).sqrt()
        return torch.cat([mean, std], dim=1)
