"""LID fine-tuning of a (pretrained) log-mel wav2vec 2.0 encoder (METHODS.md section 4).

``model.name: w2v_lid`` builds a LIDNet whose backbone is ``W2VBackbone``: the encoder of
lidtool.nnet.wav2vec2 (optionally cut to its first ``keep_blocks`` Transformer blocks) and
a pooling over time; the classifier is the usual LIDNet classifier, normally with no hidden
layer (``hidden: []``: one linear layer to the languages, trained with cross-entropy).

    model:
      name: w2v_lid
      encoder: {dim: 256, layers: 4, heads: 4, ffn: 1024}   # the pretrained model's sizes
      keep_blocks: null          # k: keep the first k Transformer blocks (null: all)
      pooling: avg               # avg | max | avg+max | avg+max+min | cls
      hidden: []
      embedding_layer: pool
      init:                      # the pretrained encoder (a w2v_encoder final.pt)
        path: exp/pretrain/w2v_pre_25/final.pt
        prefix_map: {"encoder.": "backbone.encoder."}

``cls`` prepends a learned class token to the steps entering the first Transformer block
and takes its output; the other kinds pool the encoder output over the unpadded steps
(lidtool.nnet.pooling.MaskedPooling). The encoder's buffers ``feat_mean`` / ``feat_std``
(the log-mel normalisation of pretraining) are part of the state dict, so model.init copies
them and final.pt carries them; with the feature config saved by the trainer, `lidtool
identify` runs on raw audio. The pretraining-only parts (quantiser, projection to the
contrastive space) are not in this network, so model.init never loads them.
"""
from __future__ import annotations

import torch
from torch import nn

from lidtool.nnet.pooling import MASKED_POOLING, MaskedPooling

POOLINGS = (*MASKED_POOLING, "cls")


class W2VBackbone(nn.Module):
    """phi of a fine-tuned wav2vec 2.0 model: features [B, T, F] -> pooled [B, out_dim].

    `encoder` follows the interface of lidtool.nnet.wav2vec2.Wav2Vec2Encoder: forward(feats,
    lengths) -> (x [B, T', D], pad_mask [B, T'] True = padding), features(feats, lengths) ->
    (z, pad_mask), context(z, pad_mask, prefix=[B, P, D]), `layers`, keep_blocks(k),
    out_dim, min_frames."""

    def __init__(self, encoder: nn.Module, pooling: str = "avg", keep_blocks: int | None = None):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling '{pooling}' (use one of {', '.join(POOLINGS)})")
        if keep_blocks is not None:
            encoder.keep_blocks(keep_blocks)
        self.encoder = encoder
        self.pooling = pooling
        dim = int(encoder.out_dim)
        if pooling == "cls":
            if len(encoder.layers) == 0:
                raise ValueError("pooling 'cls' needs at least one Transformer block "
                                 "(keep_blocks >= 1)")
            self.cls = nn.Parameter(torch.randn(dim) * 0.02)
            self.pool = None
            self.out_dim = dim
        else:
            self.cls = None
            self.pool = MaskedPooling(pooling)
            self.out_dim = self.pool.width * dim
        self.min_frames = int(encoder.min_frames)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.cls is None:
            h, pad_mask = self.encoder(x, lengths)
            return self.pool(h, pad_mask)
        # the token goes in after the positional convolution (encoder.context's prefix),
        # so the convolution never mixes it into the speech steps
        z, pad_mask = self.encoder.features(x, lengths)
        token = self.cls.expand(x.shape[0], 1, -1)
        return self.encoder.context(z, pad_mask, prefix=token)[:, 0]


def build_w2v_lid(feat_dim: int, encoder: dict | None = None, keep_blocks: int | None = None,
                  pooling: str = "avg") -> W2VBackbone:
    """The backbone of a `model.name: w2v_lid` section (feat_dim from the data)."""
    from lidtool.nnet.wav2vec2 import build_encoder
    if encoder is not None and not isinstance(encoder, dict):
        raise ValueError(f"encoder must be a mapping of wav2vec2 options, got {encoder!r}")
    return W2VBackbone(build_encoder(feat_dim, **(encoder or {})), pooling, keep_blocks)
