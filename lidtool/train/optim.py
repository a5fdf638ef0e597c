"""Optimisers (SGD with momentum, Adam, AdamW) and per-step learning-rate schedules.

Schedules are multipliers of `optim.lr` as a function of the step (the scheduler is stepped
once per training step):
  constant  1
  step      gamma ** (step // decay_every); decay_every defaults to total_steps // 3
            (the WADCL paper's x0.1 every T/3)
  linear    1 -> final_lr_scale linearly over the run
  cosine    half cosine 1 -> final_lr_scale
All of them accept `warmup_steps`: a linear ramp from 0 to the schedule's value first.
"""
from __future__ import annotations

import math

import torch

from lidtool.errors import ConfigError
from lidtool.train.param_groups import needs_groups, param_groups


def build_optimizer(params, cfg: dict, source: str = "<config>",
                    names: dict[int, str] | None = None) -> torch.optim.Optimizer:
    """`names` (id(param) -> model name) serve optim.lr_scales (lidtool.train.param_groups)."""
    params = [p for p in params if p.requires_grad]
    name = cfg["name"]
    lr, wd = float(cfg["lr"]), float(cfg["weight_decay"])
    if lr <= 0:
        raise ConfigError(source, f"optim.lr must be positive, got {lr}")
    if needs_groups(cfg):
        params = param_groups(params, names or {}, cfg, source)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(cfg["momentum"]),
                               weight_decay=wd, nesterov=bool(cfg["nesterov"]))
    betas = tuple(float(b) for b in cfg["betas"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd)
    raise ConfigError(source, f"optim.name: unknown optimiser '{name}'",
                      fix="use sgd, adam or adamw")


def lr_multiplier(cfg: dict, total_steps: int):
    """The schedule as a function step -> multiplier of the base learning rate."""
    name = cfg["name"]
    warmup = int(cfg.get("warmup_steps") or 0)
    final = float(cfg.get("final_lr_scale") or 0.0)
    decay_every = int(cfg.get("decay_every") or max(1, total_steps // 3))
    gamma = float(cfg.get("gamma", 0.1))
    total = max(1, total_steps)

    def base(step: int) -> float:
        if name == "constant":
            return 1.0
        if name == "step":
            return gamma ** (step // decay_every)
        frac = min(1.0, max(0.0, (step - warmup) / max(1, total - warmup)))
        if name == "linear":
            return 1.0 - (1.0 - final) * frac
        if name == "cosine":
            return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * frac))
        raise ValueError(f"unknown schedule '{name}'")

    def multiplier(step: int) -> float:
        scale = base(step)
        if warmup > 0 and step < warmup:
            scale *= (step + 1) / warmup
        return scale

    base(0)   # fail early on an unknown name
    return multiplier


def build_scheduler(optimizer, cfg: dict, total_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(cfg, total_steps))
