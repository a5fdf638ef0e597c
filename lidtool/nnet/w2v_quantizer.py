"""Gumbel-softmax product quantiser of wav2vec 2.0.

Z [B, T, in_dim] -> linear to G x V logits -> per group a one-hot codeword choice (Gumbel
softmax with hard=True in training: the forward pass uses the one-hot vector, the backward
pass the soft distribution's gradient, i.e. straight-through; in eval the argmax, no noise)
-> the chosen codevectors of the G codebooks concatenated -> linear to `out_dim`.

The Gumbel temperature is max(start * decay^n, end) after n updates (fairseq: 2, 0.5,
0.999995); n is the buffer `num_updates`, set by the pretraining strategy each step, so it is
part of the state dict and a resumed run continues the annealing where it stopped.

Logged statistics: `prob_perplexity` (sum over groups of exp(entropy) of the soft
distribution averaged over the unpadded steps of the batch; the diversity loss uses it) and
`code_perplexity` (the same of the hard choices).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lidtool.losses.contrastive import perplexity


class GumbelQuantizer(nn.Module):
    def __init__(self, in_dim: int, groups: int, entries: int, codevector_dim: int,
                 out_dim: int, temp=(2.0, 0.5, 0.999995)):
        super().__init__()
        if codevector_dim % groups:
            raise ValueError(f"codevector_dim {codevector_dim} is not divisible by {groups}")
        self.groups, self.entries = int(groups), int(entries)
        self.temp = tuple(float(t) for t in temp)
        self.weight_proj = nn.Linear(in_dim, groups * entries)
        nn.init.normal_(self.weight_proj.weight, mean=0.0, std=1.0)
        nn.init.zeros_(self.weight_proj.bias)
        self.codebook = nn.Parameter(torch.empty(groups, entries, codevector_dim // groups)
                                     .uniform_())
        self.out_proj = nn.Linear(codevector_dim, out_dim)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @property
    def temperature(self) -> float:
        start, end, decay = self.temp
        return max(start * decay ** int(self.num_updates), end)

    def set_num_updates(self, n: int) -> None:
        self.num_updates.fill_(int(n))

    def choose(self, logits: torch.Tensor) -> torch.Tensor:
        """One-hot codeword choices [N, G, V] of logits [N, G, V] (see module doc)."""
        if self.training:
            return F.gumbel_softmax(logits, tau=self.temperature, hard=True, dim=-1)
        return F.one_hot(logits.argmax(dim=-1), self.entries).to(logits.dtype)

    def forward(self, z: torch.Tensor, pad_mask: torch.Tensor | None = None):
        """(q [B, T, out_dim], {"prob_perplexity": tensor, "code_perplexity": tensor,
        "temperature": float})."""
        b, t, _ = z.shape
        logits = self.weight_proj(z).float().reshape(b * t, self.groups, self.entries)
        onehot = self.choose(logits)
        keep = (slice(None) if pad_mask is None else ~pad_mask.reshape(-1))
        with torch.no_grad():
            hard = F.one_hot(logits[keep].argmax(dim=-1), self.entries).float().mean(dim=0)
            code_ppl = perplexity(hard)
        prob_ppl = perplexity(torch.softmax(logits[keep], dim=-1).mean(dim=0))
        codes = torch.einsum("ngv,gvd->ngd", onehot, self.codebook.float())
        q = self.out_proj(codes.reshape(b, t, -1).to(z.dtype))
        return q, {"prob_perplexity": prob_ppl, "code_perplexity": code_ppl,
                   "temperature": self.temperature}
