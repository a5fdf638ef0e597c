"""One optimiser update: gradient accumulation, mixed precision, gradient averaging over
DDP ranks, clipping, the optimiser step.

Gradient accumulation (`train.accum_steps` = k): `train.batch_size` stays the batch of one
optimiser update (the sampler draws the same chunks); the update runs k forward/backward
passes on consecutive slices of it, each loss divided by k, then one optimiser step. The
gradients equal those of the whole batch except through BatchNorm, whose batch statistics
are those of each slice. With k = 1 the update is the plain forward, backward, step.

Mixed precision (`train.amp`):

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
from lidtool.train import distributed as ddp


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


class Updater:
    def __init__(self, cfg_train: dict, device: torch.device, dist: ddp.DistInfo,
                 source: str = "<config>"):
        self.precision = Precision(cfg_train["amp"], device, source)
        self.accum = int(cfg_train["accum_steps"])
        self.clip = float(cfg_train["grad_clip"] or 0.0)
        self.dist = dist

    def run(self, optimizer, batch, loss_fn) -> dict:
        """`loss_fn(*tensors) -> (loss, metrics)` on each slice of `batch` (a tuple of
        tensors with the batch first), then one step of `optimizer`. Only parameters that
        received a gradient are updated (and decayed). Returns the metrics (averaged over
        the slices)."""
        optimizer.zero_grad(set_to_none=True)
        if self.accum == 1:
            with self.precision.autocast():
                loss, metrics = loss_fn(*batch)
            self.precision.backward(loss)
        else:
            size = len(batch[0]) // self.accum
            parts = []
            for k in range(self.accum):
                with self.precision.autocast():
                    loss, m = loss_fn(*(t[k * size:(k + 1) * size] for t in batch))
                self.precision.backward(loss / self.accum)
                parts.append(m)
            metrics = {key: sum(m[key] for m in parts) / self.accum for key in parts[0]}
        self.precision.unscale(optimizer)
        params = [p for g in optimizer.param_groups for p in g["params"]]
        ddp.average_gradients(params, self.dist)
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], self.clip)
        self.precision.step(optimizer)
        return metrics
