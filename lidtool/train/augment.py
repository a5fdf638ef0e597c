"""Training-time augmentation that hides voice and channel: SpecAugment-style masks over
feature dimensions and frames, and feature-space VTLP (the `augment` config section).

Every key defaults to off; a run with the section at its defaults builds no augmenter and
trains bit-identically to a run of a version without it.

  augment.freq_mask_num    0    masks over feature dimensions per chunk
  augment.freq_mask_width  0    each such mask covers 1..width consecutive dimensions
                                (<= the feature dimension)
  augment.time_mask_num    0    masks over frames per chunk
  augment.time_mask_width  0    each covers 1..width consecutive frames (<= data.min_chunk)
  augment.vtlp_prob        0.0  probability that a chunk's frequency axis is warped
  augment.vtlp_alpha       [0.9, 1.1]  the warp factor is drawn uniformly in this range

Masked values are set to zero. The features are those after sliding CMN (data.cmn_window),
so zero is the local mean of each dimension; with cmn_window 0 it is plain zero.
Masks may overlap, so fewer than num x width values can be hidden.

Frequency masks are meant for filterbank / log-mel features, where consecutive dimensions
are neighbouring bands. On MFCC they hide cepstral coefficients, which is not a band mask
(each coefficient mixes all bands); it is allowed but does not simulate a channel gap.

VTLP (Jaitly & Hinton 2013, here on the features rather than the spectrum): the frequency
axis of the bins 0..D-1 is warped piecewise-linearly, f -> alpha * f up to a boundary at
0.8 of the axis (times min(alpha, 1) / alpha), then linearly to the top bin, which stays in
place; each output bin is read from the input by linear interpolation between neighbouring
bins. alpha > 1 moves energy to higher bins, alpha = 1 is the identity. The warp is linear
across dimensions and CMN is linear over time per dimension, so warping CMN'd features
equals warping before CMN. VTLP needs bands along the feature axis: on MFCC features
(feature type mfcc / mfcc_pitch in the run's feature config, `lidtool train --feat-config`)
it is a ConfigError naming `augment.vtlp_prob`; without a feature config the type is
unknown and VTLP is not refused.

Only training batches are augmented (Trainer._next, on the run's device, after the chunk
was cut and before gradient accumulation slices it), never validation or inference. The
randomness comes from a generator seeded by (train.seed, the step, the sampler's name, the
DDP rank, a constant), a pure function of the step like the samplers: a resumed run draws
the same augmentation, and the global torch RNG is not used.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from lidtool.errors import ConfigError

SECTION = {"freq_mask_num": 0, "freq_mask_width": 0, "time_mask_num": 0,
           "time_mask_width": 0, "vtlp_prob": 0.0, "vtlp_alpha": [0.9, 1.1]}
RANGES = {("augment", "freq_mask_num"): (lambda v: v >= 0, ">= 0"),
          ("augment", "freq_mask_width"): (lambda v: v >= 0, ">= 0"),
          ("augment", "time_mask_num"): (lambda v: v >= 0, ">= 0"),
          ("augment", "time_mask_width"): (lambda v: v >= 0, ">= 0"),
          ("augment", "vtlp_prob"): (lambda v: 0 <= v <= 1, "in [0, 1]")}
VTLP_BOUNDARY = 0.8          # fraction of the axis where the linear warp f -> alpha f ends
_STREAM = 0x61756774         # "augt": keeps these seeds apart from any other use of the step
MFCC_TYPES = ("mfcc", "mfcc_pitch")


def validate_section(aug: dict, source: str) -> None:
    """Checks beyond the types and RANGES of lidtool.train.config.check_types."""
    alpha = aug["vtlp_alpha"]
    if (len(alpha) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                   for a in alpha) or not 0 < alpha[0] <= alpha[1]):
        raise ConfigError(source, f"augment.vtlp_alpha must be [low, high] with 0 < low <= "
                          f"high, got {alpha!r}", fix="e.g. augment.vtlp_alpha=[0.9,1.1]")
    for kind in ("freq", "time"):
        num, width = aug[f"{kind}_mask_num"], aug[f"{kind}_mask_width"]
        if num > 0 and width == 0:
            raise ConfigError(source, f"augment.{kind}_mask_num={num} needs "
                              f"augment.{kind}_mask_width >= 1")


def is_enabled(aug: dict) -> bool:
    return aug["freq_mask_num"] > 0 or aug["time_mask_num"] > 0 or aug["vtlp_prob"] > 0


def augment_seed(seed: int, step: int, name: str, rank: int = 0) -> int:
    """The generator seed of sampler `name`'s batch at `step` (a pure function)."""
    mix = np.random.SeedSequence([_STREAM, int(seed), int(step),
                                  zlib.crc32(name.encode("utf-8")), int(rank)])
    return int(mix.generate_state(1, np.uint64)[0] >> np.uint64(1))


def band_masks(gen: torch.Generator, batch: int, size: int, num: int, width: int):
    """(starts, widths), each [batch, num]: `num` bands of 1..width of an axis of `size`."""
    widths = torch.randint(1, width + 1, (batch, num), generator=gen)
    starts = (torch.rand((batch, num), generator=gen) * (size - widths + 1)).long()
    return starts, widths


def apply_bands(x: torch.Tensor, starts, widths, dim: int) -> torch.Tensor:
    """`x` [B, L, D] with the bands (band_masks) of axis `dim` (1: frames, 2: dims) zeroed."""
    pos = torch.arange(x.shape[dim], device=x.device)
    s, w = starts.to(x.device)[:, :, None], widths.to(x.device)[:, :, None]
    hidden = ((pos >= s) & (pos < s + w)).any(dim=1)            # [B, size]
    shape = (x.shape[0], -1, 1) if dim == 1 else (x.shape[0], 1, -1)
    return x.masked_fill(hidden.view(shape), 0.0)


def vtlp_sources(alpha: torch.Tensor, size: int) -> torch.Tensor:
    """[B, size]: the input position read by each output bin under warp factor alpha [B]."""
    top = float(size - 1)
    j = torch.arange(size, dtype=torch.float64)[None, :]
    a = alpha.to(torch.float64)[:, None]
    out_knee = VTLP_BOUNDARY * top * torch.clamp(a, max=1.0)     # warp(in_knee)
    in_knee = out_knee / a
    upper = top - (top - j) * (top - in_knee) / (top - out_knee)
    return torch.where(j <= out_knee, j / a, upper).clamp(0.0, top)


def warp_bins(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """`x` [B, L, D] with each chunk's feature axis warped by its alpha [B] (alpha 1: x)."""
    src = vtlp_sources(alpha, x.shape[2])
    low = src.floor().long().clamp(max=x.shape[2] - 1)
    high = (low + 1).clamp(max=x.shape[2] - 1)
    frac = (src - low).to(x.device, x.dtype)[:, None, :]
    index = (low.to(x.device)[:, None, :].expand_as(x), high.to(x.device)[:, None, :].expand_as(x))
    return x.gather(2, index[0]) * (1 - frac) + x.gather(2, index[1]) * frac


class Augmenter:
    """The `augment` section applied to training batches; build with `from_config`."""

    def __init__(self, aug: dict, seed: int, rank: int = 0):
        self.cfg, self.seed, self.rank = aug, int(seed), int(rank)

    @classmethod
    def from_config(cls, cfg: dict, feat_dim: int, features: dict | None, *, rank: int = 0,
                    source: str = "<config>") -> "Augmenter | None":
        """None when every augmentation is off. Checks the widths against the data and VTLP
        against the feature type of `features` (the trainer's feature meta; no
        feature_config: unknown, allowed)."""
        aug = cfg["augment"]
        feature_type = ((features or {}).get("feature_config") or {}).get("type")
        if not is_enabled(aug):
            return None
        if aug["freq_mask_num"] > 0 and aug["freq_mask_width"] > feat_dim:
            raise ConfigError(source, f"augment.freq_mask_width={aug['freq_mask_width']} is "
                              f"more than the feature dimension {feat_dim}")
        min_chunk = int(cfg["data"]["min_chunk"])
        if aug["time_mask_num"] > 0 and aug["time_mask_width"] > min_chunk:
            raise ConfigError(source, f"augment.time_mask_width={aug['time_mask_width']} is "
                              f"more than data.min_chunk={min_chunk} frames")
        if aug["vtlp_prob"] > 0 and feature_type in MFCC_TYPES:
            raise ConfigError(source, f"augment.vtlp_prob={aug['vtlp_prob']}: VTLP warps "
                              f"filterbank bands, but the features are {feature_type} "
                              "(cepstra)", fix="use fbank or logmel features, or "
                              "augment.vtlp_prob=0 (frequency masks are allowed)")
        return cls(aug, int(cfg["train"]["seed"]), rank)

    def generator(self, step: int, name: str) -> torch.Generator:
        return torch.Generator().manual_seed(augment_seed(self.seed, step, name, self.rank))

    def __call__(self, x: torch.Tensor, step: int, name: str) -> torch.Tensor:
        """The augmented training chunks x [B, L, D] of sampler `name` at `step`."""
        a, gen = self.cfg, self.generator(step, name)
        batch, frames, dims = x.shape
        if a["vtlp_prob"] > 0:
            chosen = torch.rand(batch, generator=gen) < a["vtlp_prob"]
            low, high = a["vtlp_alpha"]
            alpha = low + (high - low) * torch.rand(batch, generator=gen, dtype=torch.float64)
            x = warp_bins(x, torch.where(chosen, alpha, torch.ones_like(alpha)))
        if a["freq_mask_num"] > 0:
            x = apply_bands(x, *band_masks(gen, batch, dims, a["freq_mask_num"],
                                           a["freq_mask_width"]), dim=2)
        if a["time_mask_num"] > 0:
            x = apply_bands(x, *band_masks(gen, batch, frames, a["time_mask_num"],
                                           min(a["time_mask_width"], frames)), dim=1)
        return x
