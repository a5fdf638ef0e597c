"""SphereFace / A-Softmax: a multiplicative angular margin, annealed in from plain softmax.

Liu et al., "SphereFace: Deep Hypersphere Embedding for Face Recognition", CVPR 2017.
The class weights are L2-normalised (no bias); the embedding is *not*, its norm ``||x||``
scales every logit. With ``theta_j`` the angle between x and class j's weight:

  non-target (and every logit without labels)   ``||x|| cos theta_j``
  target y                                      ``||x|| (lambda cos theta_y + psi(theta_y))
                                                  / (1 + lambda)``

``psi(theta) = (-1)^k cos(m theta) - 2k`` for ``theta`` in ``[k pi/m, (k+1) pi/m]``,
``k = 0 .. m-1``: cos(m theta) where it falls, continued so that psi keeps decreasing over
[0, pi] (plain cos(m theta) would rise again past pi/m and reward a wrong embedding).
``cos(m theta)`` is evaluated as the Chebyshev polynomial ``T_m(cos theta)`` and ``k`` is
found without gradient, so the gradient never goes through ``acos`` (whose derivative is
infinite at cos = +-1, i.e. for perfectly aligned embeddings).

The margin alone makes the loss too hard to train from scratch, so ``lambda`` mixes plain
softmax in and decays with the global step ``k``:

  ``lambda(k) = max(lambda_min, lambda_base * (1 + lambda_gamma * k) ** -lambda_power)``

Defaults m = 4, lambda_base = 1000, lambda_gamma = 0.12, lambda_power = 1, lambda_min = 5
are those of the SphereFace authors' Caffe model (margin_inner_product_param of
wy1iu/sphereface, sphereface_model.prototxt); lambda reaches its floor after about
1,660 steps. The trainer sets the step through :meth:`SphereFaceHead.update_step` before
every step; the step is a buffer of the head (``anneal_step``), so it is saved with the
model and a resumed run continues the same schedule. A run that starts from a trained head
(model.init, e.g. DropAdapt) continues that head's schedule too, rather than going back to
lambda_base (mostly plain softmax): ``anneal_offset`` holds the step it was loaded at.
"""
from __future__ import annotations

import math

import torch

from lidtool.losses.base import register_head
from lidtool.losses.margins import CosineHead, check_number


def chebyshev_cos(cos: torch.Tensor, m: int) -> torch.Tensor:
    """cos(m theta) from cos theta: T_m by the recurrence T_{n+1} = 2 c T_n - T_{n-1}."""
    prev, cur = torch.ones_like(cos), cos
    if m == 0:
        return prev
    for _ in range(m - 1):
        prev, cur = cur, 2.0 * cos * cur - prev
    return cur


@register_head("sphereface")
class SphereFaceHead(CosineHead):
    """A-Softmax with the lambda annealing of the SphereFace paper (see module docstring)."""

    def __init__(self, in_dim: int, num_classes: int, margin: int = 4,
                 lambda_base: float = 1000.0, lambda_gamma: float = 0.12,
                 lambda_power: float = 1.0, lambda_min: float = 5.0):
        super().__init__(in_dim, num_classes)
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 1:
            raise ValueError(f"margin (the integer m of cos(m theta)) must be an integer >= 1, "
                             f"got {margin!r}")
        self.margin = margin
        self.lambda_base = check_number("lambda_base", lambda_base, 0.0)
        self.lambda_gamma = check_number("lambda_gamma", lambda_gamma, 0.0)
        self.lambda_power = check_number("lambda_power", lambda_power, 0.0)
        self.lambda_min = check_number("lambda_min", lambda_min, 0.0)
        self.register_buffer("anneal_step", torch.zeros((), dtype=torch.long))
        self.register_buffer("anneal_offset", torch.zeros((), dtype=torch.long))

    def lambda_at(self, step: int) -> float:
        decayed = self.lambda_base * (1.0 + self.lambda_gamma * step) ** -self.lambda_power
        return max(self.lambda_min, decayed)

    @property
    def lambda_(self) -> float:
        """lambda at the head's current annealing step."""
        return self.lambda_at(int(self.anneal_step))

    def update_step(self, step: int) -> dict:
        self.anneal_step.fill_(int(self.anneal_offset) + int(step))
        return {"lambda": self.lambda_}

    def continue_after_init(self) -> None:
        self.anneal_offset.fill_(int(self.anneal_step))

    def psi(self, cos_t: torch.Tensor) -> torch.Tensor:
        """psi(theta) (module docstring) from cos theta, differentiable in cos theta."""
        cos_t = cos_t.clamp(-1.0, 1.0)
        m = self.margin
        with torch.no_grad():
            k = torch.floor(m * torch.acos(cos_t) / math.pi).clamp(0, m - 1)
        sign = 1.0 - 2.0 * torch.remainder(k, 2)
        return sign * chebyshev_cos(cos_t, m) - 2.0 * k

    def compute_logits(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                       **aux) -> torch.Tensor:
        cos = self.cosine(emb)
        norm = emb.norm(dim=1, keepdim=True)
        if labels is None:
            return norm * cos
        idx = self.target_index(cos, labels)
        cos_t = cos.gather(1, idx)
        lam = self.lambda_
        target = (lam * cos_t + self.psi(cos_t)) / (1.0 + lam)
        return norm * cos.scatter(1, idx, target)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, margin={self.margin}, lambda_base={self.lambda_base}, "
                f"lambda_gamma={self.lambda_gamma}, lambda_power={self.lambda_power}, "
                f"lambda_min={self.lambda_min}")
