"""2-D ResNet frame encoders over (time x frequency) feature maps.

Two sizes (METHODS.md section 1 leaves "ResNet32" open):
  - ``resnet32``: CIFAR-style ResNet-32, 3 stages x 5 basic blocks, 16/32/64 channels,
    stage strides 1/2/2.
  - ``resnet34``: thin ResNet-34, [3, 4, 6, 3] basic blocks, 32/64/128/256 channels,
    stage strides 1/2/2/2.
Both accept ``blocks`` and ``channels`` overrides (used by the mini configs).

Input [B, T, F] is treated as a one-channel image [B, 1, F, T] (stride-2 stages halve both
axes); the output folds channels and remaining frequency bins into one axis, giving
[B, C * F', T'] for statistics pooling.
"""
from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, feat_dim: int, blocks, channels, strides=None):
        super().__init__()
        blocks, channels = [int(b) for b in blocks], [int(c) for c in channels]
        if len(blocks) != len(channels) or not blocks:
            raise ValueError("resnet: `blocks` and `channels` need the same (non-zero) length")
        strides = list(strides) if strides is not None else [1] + [2] * (len(blocks) - 1)
        self.stem = nn.Sequential(nn.Conv2d(1, channels[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True))
        layers, in_ch = [], channels[0]
        for n, ch, stride in zip(blocks, channels, strides):
            for i in range(n):
                layers.append(BasicBlock(in_ch, ch, stride if i == 0 else 1))
                in_ch = ch
        self.layers = nn.Sequential(*layers)
        freq = feat_dim
        for stride in strides:
            freq = (freq - 1) // stride + 1
        self.out_dim = in_ch * freq
        self.min_frames = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x.transpose(1, 2).unsqueeze(1)))   # [B, C, F', T']
        b, c, f, t = x.shape
        return x.reshape(b, c * f, t)


def resnet32(feat_dim: int, blocks=(5, 5, 5), channels=(16, 32, 64)) -> ResNet:
    return ResNet(feat_dim, blocks, channels)


def resnet34(feat_dim: int, blocks=(3, 4, 6, 3), channels=(32, 64, 128, 256)) -> ResNet:
    return ResNet(feat_dim, blocks, channels)
