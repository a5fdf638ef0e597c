"""wav2vec 2.0 pretraining module: encoder + quantiser + the contrastive task
(`model.name: wav2vec2`, trained by `train.strategy: w2v_pretrain`).

forward(feats [B, T, F], lengths [B] or None, rng) computes, per utterance crop:
  Z = encoder.features(feats)              (pre-context features, the quantiser's input)
  mask = compute_mask(...)                 (lidtool.nnet.w2v_masking; same count per row)
  c = final_proj(encoder.context(Z, mask)) at the masked steps      [B, M_n, final_dim]
  y = quantizer(Z) at the masked steps                              [B, M_n, final_dim]
  logits over (y, K distractors of the same utterance, and `cross_negatives` K' from any
  utterance of the batch when > 0)                                  (lidtool.losses.contrastive)
  loss = contrastive + diversity_weight * diversity + feature_penalty * mean(Z^2)

and returns a dict of tensors/floats: loss, contrastive, diversity, feature_penalty,
prob_perplexity, code_perplexity, acc, temperature, masked (fraction of steps masked).
`rng` is a numpy Generator for the masks and distractors (drawn from the torch RNG when
omitted); the Gumbel noise and dropout use the torch RNG like every other layer.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lidtool.losses.contrastive import contrastive_logits, contrastive_loss, diversity_loss
from lidtool.nnet.w2v_masking import compute_mask, sample_cross_negatives, sample_negatives
from lidtool.nnet.w2v_quantizer import GumbelQuantizer
from lidtool.nnet.wav2vec2 import Wav2Vec2Config, Wav2Vec2Encoder


class Wav2Vec2Pretrain(nn.Module):
    def __init__(self, encoder: Wav2Vec2Encoder, quantizer: GumbelQuantizer):
        super().__init__()
        self.encoder, self.quantizer = encoder, quantizer
        self.config: Wav2Vec2Config = encoder.config
        self.final_proj = nn.Linear(encoder.out_dim, self.config.final_dim)
        self.min_frames = encoder.min_frames

    def set_num_updates(self, n: int) -> None:
        """Anneal the Gumbel temperature to update `n`."""
        self.quantizer.set_num_updates(n)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None,
                rng: np.random.Generator | None = None) -> dict:
        c = self.config
        if rng is None:
            rng = np.random.default_rng(int(torch.randint(2 ** 62, ())))
        z, pad_mask = self.encoder.features(feats, lengths)
        if c.feature_grad_mult < 1:
            # same values, gradient into the feature encoder scaled (fairseq's GradMultiply)
            z = z.detach() + c.feature_grad_mult * (z - z.detach())
        b, steps, _ = z.shape
        mask_np = compute_mask((b, steps), pad_mask.cpu().numpy(), c.mask_prob,
                               c.mask_length, c.min_masks, rng)
        mask = torch.from_numpy(mask_np).to(z.device)
        num_masked = int(mask_np[0].sum())
        x = self.encoder.context(z, pad_mask, mask)
        ctx = self.final_proj(x[mask].reshape(b, num_masked, -1))
        q, stats = self.quantizer(z, pad_mask)
        y = q[mask].reshape(b, num_masked, -1)
        negatives = torch.from_numpy(
            sample_negatives(b, num_masked, c.num_negatives, rng)).to(z.device)
        cross = None
        if c.cross_negatives:
            cross = torch.from_numpy(sample_cross_negatives(
                b, num_masked, c.cross_negatives, rng)).to(z.device)
        logits = contrastive_logits(ctx, y, negatives, c.logit_temp, cross)
        contrastive, acc = contrastive_loss(logits)
        diversity = diversity_loss(stats["prob_perplexity"], self.quantizer.groups,
                                   self.quantizer.entries)
        penalty = z.float().pow(2).mean()
        loss = contrastive + c.diversity_weight * diversity
        if c.feature_penalty > 0:
            loss = loss + c.feature_penalty * penalty
        return {"loss": loss, "contrastive": contrastive, "diversity": diversity,
                "feature_penalty": penalty, "prob_perplexity": stats["prob_perplexity"],
                "code_perplexity": stats["code_perplexity"], "acc": acc,
                "temperature": stats["temperature"],
                "masked": num_masked / max(1, steps - int(pad_mask[0].sum()))}


def build_pretrain(feat_dim: int, **options) -> Wav2Vec2Pretrain:
    """The pretraining module of a `model` section (`model.name: wav2vec2`)."""
    config = Wav2Vec2Config.from_dict({**options, "feat_dim": int(feat_dim)})
    encoder = Wav2Vec2Encoder(config)
    quantizer = GumbelQuantizer(config.enc_dim, config.quantizer_groups,
                                config.quantizer_entries, config.final_dim, config.final_dim,
                                config.temp)
    return Wav2Vec2Pretrain(encoder, quantizer)
