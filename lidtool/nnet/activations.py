"""Nonlinearities selectable by name in model configs (`model.activation`)."""
from __future__ import annotations

from torch import nn

ACTIVATIONS = ("relu", "leaky_relu")
# PyTorch's own default slope; the DropClass paper's x-vector code uses nn.LeakyReLU() as is
DEFAULT_LEAKY_SLOPE = 0.01


def make_activation(name: str = "relu", leaky_slope: float = DEFAULT_LEAKY_SLOPE) -> nn.Module:
    """A fresh activation module: `relu`, or `leaky_relu` with negative slope `leaky_slope`."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(float(leaky_slope))
    raise ValueError(f"unknown activation '{name}' (use one of: {', '.join(ACTIVATIONS)})")
