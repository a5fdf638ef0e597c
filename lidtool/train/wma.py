"""Weight moving average (WMA): an exponential moving average of a model's weights.

After every optimiser step, theta_wma <- alpha * theta_wma + (1 - alpha) * theta, starting
from theta_wma = theta of the model when the average is created, i.e. the initial weights
(METHODS.md section 1, alpha = 0.99).

BatchNorm: the running statistics (running_mean / running_var) are averaged with the same
alpha as the weights, so the averaged model's normalisation follows the averaged weights'
history instead of the last raw model's; integer buffers (num_batches_tracked) are copied.
This is the "average buffers too" choice of METHODS.md (no extra pass over the data), and
tests/test_train_wma.py checks weights and buffers against a hand-computed EMA.
`recompute_bn_stats` offers the other choice (a pass over training batches) as a utility.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class WeightMovingAverage:
    def __init__(self, model: nn.Module, alpha: float = 0.99):
        self.alpha = float(alpha)
        self.model = copy.deepcopy(model)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        alpha = self.alpha
        src = dict(model.named_parameters())
        for name, p in self.model.named_parameters():
            p.mul_(alpha).add_(src[name].detach(), alpha=1.0 - alpha)
        src_buf = dict(model.named_buffers())
        for name, b in self.model.named_buffers():
            if b.is_floating_point():
                b.mul_(alpha).add_(src_buf[name].detach(), alpha=1.0 - alpha)
            else:
                b.copy_(src_buf[name])
        self.updates += 1

    def state_dict(self) -> dict:
        return {"alpha": self.alpha, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.alpha = float(state["alpha"])
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["model"])


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, batches, device="cpu") -> None:
    """Re-estimate BatchNorm running statistics of `model` as a cumulative average over
    `batches` (iterable of (x, y)), leaving the weights untouched."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.momentum) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    try:
        for x, _ in batches:
            model(x.to(device))
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        model.train(was_training)
