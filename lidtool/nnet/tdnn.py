"""TDNN frame encoders: the Kaldi x-vector network and the extended E-TDNN of AP20-OLR.

Each frame layer is a dilated 1-D convolution over time ("TDNN": splice offsets {-k..k} or
{-d, 0, d}) followed by ReLU and BatchNorm (Kaldi's affine -> relu -> batchnorm order).
No padding is used, as in Kaldi, so an input needs at least `min_frames` frames
(left + right context + 1); callers repeat-pad shorter inputs.

Input is [B, T, F] (frames x feature dims); output is [B, C_out, T'] for statistics pooling.
"""
from __future__ import annotations

import torch
from torch import nn

# Layer layouts: (kernel, dilation, width-key). Width "c" = `channels`, "s" = `stats_channels`.
# Context {-2..2} = kernel 5 dil 1; {-2,0,2} = kernel 3 dil 2; 1x1 = kernel 1.
XVECTOR_LAYOUT = [(5, 1, "c"), (3, 2, "c"), (3, 3, "c"), (1, 1, "c"), (1, 1, "s")]
ETDNN_LAYOUT = [(5, 1, "c"), (1, 1, "c"), (3, 2, "c"), (1, 1, "c"), (3, 3, "c"), (1, 1, "c"),
                (3, 4, "c"), (1, 1, "c"), (1, 1, "c"), (1, 1, "s")]


class TDNNLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, kernel: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(in_dim, out_dim, kernel, dilation=dilation)
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm1d(out_dim)
        self.context = (kernel - 1) * dilation

    def forward(self, x):
        return self.bn(self.act(self.conv(x)))


class TDNN(nn.Module):
    """Stack of TDNN layers following `layout`; see XVECTOR_LAYOUT / ETDNN_LAYOUT."""

    def __init__(self, feat_dim: int, layout, channels: int = 512, stats_channels: int = 1500):
        super().__init__()
        widths = {"c": int(channels), "s": int(stats_channels)}
        layers, in_dim = [], feat_dim
        for kernel, dilation, key in layout:
            layers.append(TDNNLayer(in_dim, widths[key], kernel, dilation))
            in_dim = widths[key]
        self.layers = nn.Sequential(*layers)
        self.out_dim = in_dim
        self.min_frames = 1 + sum(layer.context for layer in layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.transpose(1, 2))


def xvector_tdnn(feat_dim: int, channels: int = 512, stats_channels: int = 1500) -> TDNN:
    return TDNN(feat_dim, XVECTOR_LAYOUT, channels, stats_channels)


def etdnn(feat_dim: int, channels: int = 512, stats_channels: int = 1500) -> TDNN:
    return TDNN(feat_dim, ETDNN_LAYOUT, channels, stats_channels)
