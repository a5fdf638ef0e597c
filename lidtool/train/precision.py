"""Mixed precision for the training step (`train.amp: none|bf16|fp16`).

none  plain float32, no autocast (the default; nothing changes).
bf16  forward and loss under torch.autocast(bfloat16) on the run's device (CPU or CUDA);
      no loss scaling (bfloat16 has float32's range).
fp16  autocast(float16) with a GradScaler; CUDA only (a ConfigError elsewhere). The
      scaler's state is checkpointed so that a resumed run continues with its scale.
"""
from __future__ import annotations

import contextlib

import torch

from lidtool.errors import ConfigError


class Precision:
    def __init__(self, mode: str, device: torch.device, source: str = "<config>"):
        self.mode, self.device = mode, device
        self.scaler = None
        if mode == "none":
            return
        if mode == "fp16" and device.type != "cuda":
            raise ConfigError(source, f"train.amp=fp16 needs a CUDA device, this run uses "
                              f"'{device.type}'", fix="use train.amp=bf16 or none")
        if not torch.amp.autocast_mode.is_autocast_available(device.type):
            raise ConfigError(source, f"train.amp={mode}: autocast is not available on "
                              f"'{device.type}'", fix="use train.amp=none")
        if mode == "fp16":
            self.scaler = torch.amp.GradScaler("cuda")

    def autocast(self):
        if self.mode == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.mode == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, optimizer) -> None:
        """Make .grad true gradients (before averaging over ranks and clipping)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict | None:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
