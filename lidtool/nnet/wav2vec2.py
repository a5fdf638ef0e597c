"""Log-mel wav2vec 2.0 encoder (METHODS.md section 4; Tjandra et al.'s XLSR-style LID model).

Feature encoder (``features``): 80-dim log-mel frames -> per-dimension normalisation with
the buffers ``feat_mean`` / ``feat_std`` (set from a sample of the pretraining data before
training, lidtool.train.w2v_pretrain; they travel in the state dict, so a fine-tuned or
resumed model normalises as the pretrained one did) -> stacking of R = ``stack`` consecutive
frames (T frames -> T // R steps; a trailing remainder is dropped) -> linear to ``enc_dim``.
Its output Z is what the quantiser sees (the targets of pretraining).

Context encoder (``context``): linear ``enc_dim`` -> ``dim`` -> LayerNorm -> (masked steps
replaced by a learned vector, pretraining only) -> convolutional relative positional
embedding (grouped Conv1d with weight norm, GELU, added to its input) -> ``layers`` pre-LN
``nn.TransformerEncoderLayer`` (norm_first) -> final LayerNorm. ``forward`` = both, giving
x [B, T', dim] and the padding mask [B, T'] (True = padding).

The projection to ``final_dim`` for the contrastive task belongs to the pretraining module
(lidtool.nnet.w2v_pretrain), not to the encoder: fine-tuning drops it as fairseq does.

``Wav2Vec2Config`` holds every size and pretraining option; the ``model`` config section
(minus the trainer's keys) maps onto its fields. The defaults are a small CPU model; the
paper's (24 x 1024, 16 heads, FFN 4096, final 768, kernel 48) is `paper_sizes()`.
Masking unit: ``mask_prob`` is fairseq's, i.e. p * M (the paper's p = 0.065 with M = 5 is
mask_prob 0.325, about 29 % of the steps masked once overlapping spans merge).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Wav2Vec2Config:
    feat_dim: int = 80
    stack: int = 4                  # R: frames stacked per step (10 ms -> 40 ms)
    enc_dim: int = 512              # Z, the quantiser's input
    dim: int = 256                  # D, Transformer width
    layers: int = 4
    heads: int = 4
    ffn: int = 1024
    final_dim: int = 256            # contrastive space (and codevector size)
    pos_conv_kernel: int = 48
    pos_conv_groups: int = 16
    dropout: float = 0.1
    quantizer_groups: int = 2       # G
    quantizer_entries: int = 320    # V
    temp: list = field(default_factory=lambda: [2.0, 0.5, 0.999995])   # start, end, decay
    mask_prob: float = 0.325        # fairseq unit: p * M
    mask_length: int = 5            # M, in steps
    min_masks: int = 2
    num_negatives: int = 100        # K
    cross_negatives: int = 0        # fairseq cross_sample_negatives: from any utterance
    logit_temp: float = 0.1
    diversity_weight: float = 0.1
    feature_penalty: float = 0.0
    feature_grad_mult: float = 1.0  # fairseq: scales the feature encoder's gradient (base 0.1)

    def __post_init__(self):
        ints = ("feat_dim", "stack", "enc_dim", "dim", "layers", "heads", "ffn", "final_dim",
                "pos_conv_kernel", "pos_conv_groups", "quantizer_groups", "quantizer_entries",
                "mask_length", "min_masks", "num_negatives", "cross_negatives")
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < (0 if name in ("layers", "min_masks", "cross_negatives") else 1):
                raise ValueError(f"{name} must be positive, got {value}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")
        if self.dim % self.pos_conv_groups:
            raise ValueError(f"dim {self.dim} is not divisible by pos_conv_groups "
                             f"{self.pos_conv_groups}")
        if self.final_dim % self.quantizer_groups:
            raise ValueError(f"final_dim {self.final_dim} is not divisible by "
                             f"quantizer_groups {self.quantizer_groups}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.mask_prob <= 1:
            raise ValueError(f"mask_prob must be in [0, 1] (fairseq unit p * M), "
                             f"got {self.mask_prob}")
        if (not isinstance(self.temp, (list, tuple)) or len(self.temp) != 3
                or not all(isinstance(t, (int, float)) and t > 0 for t in self.temp)):
            raise ValueError(f"temp must be [start, end, decay] > 0, got {self.temp!r}")
        self.temp = [float(t) for t in self.temp]
        if self.logit_temp <= 0:
            raise ValueError(f"logit_temp must be > 0, got {self.logit_temp}")
        if not 0 <= self.feature_grad_mult <= 1:
            raise ValueError(f"feature_grad_mult must be in [0, 1], got {self.feature_grad_mult}")
        if self.diversity_weight < 0 or self.feature_penalty < 0:
            raise ValueError("diversity_weight and feature_penalty must be >= 0")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, options: dict) -> "Wav2Vec2Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown wav2vec2 option(s) {unknown} (known: {sorted(known)})")
        return cls(**options)


def paper_sizes() -> dict:
    """The paper's model sizes (model-section overrides)."""
    return {"dim": 1024, "layers": 24, "heads": 16, "ffn": 4096, "final_dim": 768,
            "pos_conv_kernel": 48}


class PositionalConv(nn.Module):
    """Convolutional relative positional embedding: x + GELU(weight-normed grouped conv(x))."""

    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)
        # fairseq's initialisation: normal with std sqrt(4 / (kernel * dim)), zero bias
        nn.init.normal_(conv.weight, mean=0.0, std=(4.0 / (kernel * dim)) ** 0.5)
        nn.init.zeros_(conv.bias)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.even = kernel % 2 == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:            # [B, T, D]
        y = self.conv(x.transpose(1, 2))
        if self.even:           # padding k // 2 on both sides gives T + 1 steps
            y = y[:, :, :-1]
        return x + nn.functional.gelu(y).transpose(1, 2)


class Wav2Vec2Encoder(nn.Module):
    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        c = self.config = config
        self.register_buffer("feat_mean", torch.zeros(c.feat_dim))
        self.register_buffer("feat_std", torch.ones(c.feat_dim))
        self.feature_proj = nn.Linear(c.stack * c.feat_dim, c.enc_dim)
        self.context_proj = nn.Linear(c.enc_dim, c.dim)
        self.context_norm = nn.LayerNorm(c.dim)
        self.mask_emb = nn.Parameter(torch.empty(c.dim).uniform_())
        self.dropout = nn.Dropout(c.dropout)
        self.pos_conv = PositionalConv(c.dim, c.pos_conv_kernel, c.pos_conv_groups)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(c.dim, c.heads, c.ffn, dropout=c.dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(c.layers))
        self.final_norm = nn.LayerNorm(c.dim)
        self.out_dim = c.dim
        self.min_frames = c.stack

    # -- set-up ----------------------------------------------------------------------------
    @torch.no_grad()
    def set_feature_stats(self, mean, std, floor: float = 1e-5) -> None:
        """Per-dimension mean / standard deviation of the input features (std floored)."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.numel() != self.config.feat_dim or std.numel() != self.config.feat_dim:
            raise ValueError(f"feature statistics of dimension {mean.numel()}/{std.numel()}, "
                             f"the encoder takes {self.config.feat_dim}")
        self.feat_mean.copy_(mean)
        self.feat_std.copy_(std.clamp(min=floor))

    def keep_blocks(self, k: int) -> "Wav2Vec2Encoder":
        """Keep only the first `k` Transformer blocks (0 <= k <= layers); returns self."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(self.layers):
            raise ValueError(f"keep_blocks: k must be an integer in [0, {len(self.layers)}], "
                             f"got {k!r}")
        self.layers = self.layers[:k]
        self.config = dataclasses.replace(self.config, layers=k)
        return self

    # -- forward ---------------------------------------------------------------------------
    def pad_mask(self, lengths: torch.Tensor | None, batch: int, steps: int,
                 device) -> torch.Tensor:
        """[B, T'] bool, True = a step made of padding frames (lengths are in frames)."""
        if lengths is None:
            return torch.zeros(batch, steps, dtype=torch.bool, device=device)
        valid = torch.div(lengths.to(device), self.config.stack, rounding_mode="floor")
        return torch.arange(steps, device=device)[None, :] >= valid[:, None]

    def features(self, feats: torch.Tensor, lengths: torch.Tensor | None = None):
        """(Z [B, T // R, enc_dim], pad_mask [B, T // R]) of log-mel `feats` [B, T, F]."""
        if feats.dim() != 3 or feats.shape[2] != self.config.feat_dim:
            raise ValueError(f"wav2vec2 expects features [B, T, {self.config.feat_dim}], got "
                             f"{tuple(feats.shape)}")
        b, t, f = feats.shape
        r = self.config.stack
        steps = t // r
        if steps == 0:
            raise ValueError(f"{t} frames are fewer than one step of {r} stacked frames")
        x = (feats[:, :steps * r] - self.feat_mean) / self.feat_std
        z = self.feature_proj(x.reshape(b, steps, r * f))
        return z, self.pad_mask(lengths, b, steps, feats.device)

    def context(self, z: torch.Tensor, pad_mask: torch.Tensor,
                mask: torch.Tensor | None = None,
                prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Transformer output [B, T', dim] of Z; `mask` [B, T'] (True = masked step)
        replaces those steps by the learned mask embedding. `prefix` [B, P, dim] (e.g. a
        class token) is put before the steps after the positional convolution, so the
        convolution sees only frames; the output then has P + T' steps, prefix first."""
        x = self.context_norm(self.context_proj(self.dropout(z)))
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_emb.to(x.dtype), x)
        x = x.masked_fill(pad_mask[..., None], 0.0)
        x = self.dropout(self.pos_conv(x))
        if prefix is not None:
            x = torch.cat([prefix.to(x.dtype), x], dim=1)
            pad_mask = torch.cat([pad_mask.new_zeros(prefix.shape[:2]), pad_mask], dim=1)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad_mask)
        return self.final_norm(x)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None):
        z, pad_mask = self.features(feats, lengths)
        return self.context(z, pad_mask), pad_mask


def build_encoder(feat_dim: int, **options) -> Wav2Vec2Encoder:
    """The encoder of a `model` section's options (feat_dim from the data)."""
    return Wav2Vec2Encoder(Wav2Vec2Config.from_dict({**options, "feat_dim": int(feat_dim)}))
