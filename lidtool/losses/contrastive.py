"""wav2vec 2.0 pretraining losses: the contrastive task and the codebook diversity term.

``contrastive_logits``: for each masked step, the cosine similarity of the context vector c
with its quantised target (column 0) and with K distractors (other masked steps of the same
utterance, lidtool.nnet.w2v_masking.sample_negatives; optionally more from any utterance of
the batch, sample_cross_negatives), divided by the logit temperature (fairseq 0.1). A
distractor identical to the target (a codevector repeated elsewhere in the batch) would make
the task ill-posed, so its logit is -inf. The loss is the cross-entropy with target 0 (mean
over masked steps).

``diversity_loss``: (G*V - perplexity) / (G*V), with the perplexity the sum over groups of
exp(entropy) of the batch-averaged soft codeword distribution: 0 when every codeword is used
equally, 1 - 1/V when each group uses a single codeword (fairseq's definition).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_logits(c: torch.Tensor, y: torch.Tensor, negatives: torch.Tensor,
                       temperature: float,
                       cross_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """c, y [B, M, D]; negatives int64 [B, M, K] (row-local indices); cross_negatives int64
    [B, M, K'] (indices into the B * M flattened steps) -> logits [B, M, 1 + K (+ K')]."""
    b, m = y.shape[:2]
    c = F.normalize(c.float(), dim=-1, eps=1e-8)
    yn = F.normalize(y.float(), dim=-1, eps=1e-8)
    # every (context, target) cosine of an utterance [B, M, M], then the K + 1 wanted ones:
    # cheaper than gathering K target vectors per step ([B, M, K, D])
    sim = torch.bmm(c, yn.transpose(1, 2))
    parts = [sim.diagonal(dim1=1, dim2=2).unsqueeze(2), sim.gather(2, negatives)]
    with torch.no_grad():
        # identical targets share an id; comparing ids of the drawn negatives only needs
        # [B, M, K] memory, where comparing vectors pairwise would need [B, M, M, D]
        _, ids = torch.unique(y.reshape(-1, y.shape[-1]), dim=0, return_inverse=True)
        flat_ids = ids
        ids = ids.reshape(b, m)
        same = [ids.gather(1, negatives.reshape(b, -1)).reshape(negatives.shape)
                == ids.unsqueeze(2)]
    if cross_negatives is not None:
        every = torch.mm(c.reshape(b * m, -1), yn.reshape(b * m, -1).t()).reshape(b, m, b * m)
        parts.append(every.gather(2, cross_negatives))
        with torch.no_grad():
            same.append(flat_ids[cross_negatives] == ids.unsqueeze(2))
    logits = torch.cat(parts, dim=2) / temperature
    same = torch.cat(same, dim=2)
    if same.any():
        logits[..., 1:] = logits[..., 1:].masked_fill(same, float("-inf"))
    return logits


def contrastive_loss(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean cross-entropy with target 0, accuracy) of logits [..., K+1]."""
    flat = logits.reshape(-1, logits.shape[-1])
    target = torch.zeros(len(flat), dtype=torch.long, device=flat.device)
    loss = F.cross_entropy(flat, target)
    acc = (flat.detach().argmax(dim=1) == 0).float().mean()
    return loss, acc


def perplexity(probs: torch.Tensor) -> torch.Tensor:
    """Sum over groups of exp(entropy) of probs [G, V] (each row a distribution)."""
    entropy = -(probs * torch.log(probs.clamp(min=1e-7))).sum(dim=-1)
    return torch.exp(entropy).sum()


def diversity_loss(prob_perplexity: torch.Tensor, groups: int, entries: int) -> torch.Tensor:
    total = groups * entries
    return (total - prob_perplexity) / total
