"""TDNN frame encoders: the Kaldi x-vector network and the extended E-TDNN of AP20-OLR.

Each frame layer is a dilated 1-D convolution over time ("TDNN": splice offsets {-k..k} or
{-d, 0, d}) followed by ReLU and BatchNorm (Kaldi's affine -> relu -> batchnorm order);
`activation: leaky_relu` (slope `leaky_slope`) swaps the ReLU for a LeakyReLU, as in the
x-vector of the DropClass paper.
No padding is used, as in Kaldi, so an input needs at least `min_frames` frames
(left + right context + 1); callers repeat-pad shorter inputs.

Input is [B, T, F] (frames x feature dims); output is [B, C_out, T'] for statistics pooling.

`forward_tap(x, layer)` also returns the output of frame layer `layer` (1-based) and its
frame offset, for a frame-level branch on the shared encoder (the multi-task phoneme head of
METHODS.md section 2). Output frame t of layer k sees input frames t .. t + context(1..k),
centred on input frame t + offset(k) with offset(k) = context(1..k) / 2 (all kernels are
symmetric), so frame labels of the input align with `labels[:, offset : offset + T_k]`.
`default_tap` is the last `channels`-wide layer before the `stats_channels` layer (E-TDNN:
layer 9, the last 512-wide 1x1 layer; x-vector TDNN: layer 4).
"""
from __future__ import annotations

import torch
from torch import nn

from lidtool.nnet.activations import DEFAULT_LEAKY_SLOPE, make_activation

# Layer layouts: (kernel, dilation, width-key). Width "c" = `channels`, "s" = `stats_channels`.
# Context {-2..2} = kernel 5 dil 1; {-2,0,2} = kernel 3 dil 2; 1x1 = kernel 1.
XVECTOR_LAYOUT = [(5, 1, "c"), (3, 2, "c"), (3, 3, "c"), (1, 1, "c"), (1, 1, "s")]
ETDNN_LAYOUT = [(5, 1, "c"), (1, 1, "c"), (3, 2, "c"), (1, 1, "c"), (3, 3, "c"), (1, 1, "c"),
                (3, 4, "c"), (1, 1, "c"), (1, 1, "c"), (1, 1, "s")]


class TDNNLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, kernel: int, dilation: int,
                 activation: str = "relu", leaky_slope: float = DEFAULT_LEAKY_SLOPE):
        super().__init__()
        self.conv = nn.Conv1d(in_dim, out_dim, kernel, dilation=dilation)
        self.act = make_activation(activation, leaky_slope)
        self.bn = nn.BatchNorm1d(out_dim)
        self.context = (kernel - 1) * dilation
        self.out_dim = out_dim

    def forward(self, x):
        return self.bn(self.act(self.conv(x)))


class TDNN(nn.Module):
    """Stack of TDNN layers following `layout`; see XVECTOR_LAYOUT / ETDNN_LAYOUT."""

    def __init__(self, feat_dim: int, layout, channels: int = 512, stats_channels: int = 1500,
                 activation: str = "relu", leaky_slope: float = DEFAULT_LEAKY_SLOPE):
        super().__init__()
        widths = {"c": int(channels), "s": int(stats_channels)}
        layers, in_dim = [], feat_dim
        for kernel, dilation, key in layout:
            layers.append(TDNNLayer(in_dim, widths[key], kernel, dilation, activation,
                                    leaky_slope))
            in_dim = widths[key]
        self.layers = nn.Sequential(*layers)
        self.out_dim = in_dim
        self.min_frames = 1 + sum(layer.context for layer in layers)
        keys = [key for _, _, key in layout]
        self.default_tap = max((i + 1 for i, k in enumerate(keys[:-1]) if k == "c"),
                               default=len(keys))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.transpose(1, 2))

    def tap_info(self, layer: int) -> tuple[int, int]:
        """(channels, frame offset) of the output of frame layer `layer` (1-based)."""
        if isinstance(layer, bool) or not isinstance(layer, int) \
                or not 1 <= layer <= len(self.layers):
            raise ValueError(f"frame layer must be an integer in 1..{len(self.layers)}, "
                             f"got {layer!r}")
        offset = sum(m.context for m in list(self.layers)[:layer]) // 2
        return self.layers[layer - 1].out_dim, offset

    def forward_tap(self, x: torch.Tensor, layer: int):
        """(encoder output [B, C_out, T'], layer `layer`'s output [B, C_k, T_k], offset)."""
        _, offset = self.tap_info(layer)
        h = x.transpose(1, 2)
        tapped = None
        for i, module in enumerate(self.layers, 1):
            h = module(h)
            if i == layer:
                tapped = h
        return h, tapped, offset


def xvector_tdnn(feat_dim: int, channels: int = 512, stats_channels: int = 1500,
                 activation: str = "relu", leaky_slope: float = DEFAULT_LEAKY_SLOPE) -> TDNN:
    return TDNN(feat_dim, XVECTOR_LAYOUT, channels, stats_channels, activation, leaky_slope)


def etdnn(feat_dim: int, channels: int = 512, stats_channels: int = 1500,
          activation: str = "relu", leaky_slope: float = DEFAULT_LEAKY_SLOPE) -> TDNN:
    return TDNN(feat_dim, ETDNN_LAYOUT, channels, stats_channels, activation, leaky_slope)
