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


# Pooling of a Transformer's output over time for LID fine-tuning (Tjandra et al.'s Table 3):
# each kind maps x [B, T, D] with pad_mask [B, T] (True = padding) to [B, width * D].
MASKED_POOLING = {"avg": ("avg",), "max": ("max",), "avg+max": ("avg", "max"),
                  "avg+max+min": ("avg", "max", "min")}


class MaskedPooling(nn.Module):
    """Average / max / min statistics over the unpadded steps, concatenated in the order of
    the kind's name; a padded step never reaches any statistic."""

    def __init__(self, kind: str = "avg"):
        super().__init__()
        if kind not in MASKED_POOLING:
            raise ValueError(f"unknown pooling '{kind}' (use one of "
                             f"{', '.join(MASKED_POOLING)})")
        self.kind = kind
        self.stats = MASKED_POOLING[kind]

    @property
    def width(self) -> int:
        """Output size in multiples of the input dimension."""
        return len(self.stats)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"MaskedPooling expects [B, T, D], got shape {tuple(x.shape)}")
        if pad_mask is None:
            pad_mask = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
        valid = ~pad_mask[..., None]
        if not bool(valid.any(dim=1).all()):
            raise ValueError("MaskedPooling: an utterance has no unpadded step")
        out = []
        for stat in self.stats:
            if stat == "avg":
                count = valid.sum(dim=1).clamp(min=1).to(x.dtype)
                out.append((x * valid).sum(dim=1) / count)
            elif stat == "max":
                out.append(x.masked_fill(~valid, float("-inf")).amax(dim=1))
            else:
                out.append(x.masked_fill(~valid, float("inf")).amin(dim=1))
        return torch.cat(out, dim=1)
