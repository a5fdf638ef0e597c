"""AdaCos: a cosine head whose scale adapts to the batch instead of being tuned.

Zhang et al., "AdaCos: Adaptively Scaling Cosine Logits for Effectively Learning Deep Face
Representations", CVPR 2019. Embeddings and class weights are L2-normalised, the logits are
``s cos theta_j`` with no margin. ``s`` starts at the paper's fixed scale
``sqrt(2) * ln(C - 1)`` (C = num_classes) and, with ``dynamic: true`` (the paper's Dynamic
AdaCos), is re-estimated on every training forward pass that has labels, before the
logits are formed (Algorithm 1):

  ``B_avg = (1/N) sum_i sum_{j != y_i} exp(s_old cos theta_ij)``  (non-target classes only)
  ``s     = ln(B_avg) / cos(min(pi/4, theta_med))``

where ``theta_med`` is the median of the batch's target angles (``torch.median``: the lower
of the two middle values for an even batch). No gradient flows through ``s``. With a class
subset (``rows=``, DropClass) or inactive classes the sum runs over the kept classes only;
a batch that leaves no non-target class, or whose estimate is not a positive number (B_avg
<= 1 can only happen with very few classes), keeps the old ``s``.

``s`` is a buffer (``scale``): saved with the model, so a resumed run continues from the
same value; in eval mode and without labels it is read, never updated. With gradient
accumulation it is updated once per micro-batch; under DDP every rank updates it from its
own slice and the trainer averages buffers across ranks after each step.
"""
from __future__ import annotations

import math

import torch

from lidtool.losses.base import register_head
from lidtool.losses.margins import CosineHead


def fixed_scale(num_classes: int) -> float:
    """The paper's fixed AdaCos scale sqrt(2) * ln(C - 1)."""
    return math.sqrt(2.0) * math.log(num_classes - 1)


@register_head("adacos")
class AdaCosHead(CosineHead):
    """Cosine logits with the adaptive scale of AdaCos (see module docstring)."""

    def __init__(self, in_dim: int, num_classes: int, dynamic: bool = True):
        super().__init__(in_dim, num_classes)
        if self.num_classes < 3:
            raise ValueError(f"AdaCos needs at least 3 classes (its initial scale is "
                             f"sqrt(2) ln(C - 1)), got {self.num_classes}")
        self.dynamic = bool(dynamic)
        self.register_buffer("scale", torch.tensor(fixed_scale(self.num_classes)))

    def compute_logits(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                       rows: torch.Tensor | None = None, **aux) -> torch.Tensor:
        cos = self.cosine(emb)
        if labels is not None and self.training and self.dynamic:
            self._update_scale(cos.detach(), self.target_index(cos, labels), rows)
        # a copy: the buffer changes in place on the next update, the graph keeps this value
        return self.scale.to(cos.dtype).clone() * cos

    @torch.no_grad()
    def _update_scale(self, cos: torch.Tensor, idx: torch.Tensor,
                      rows: torch.Tensor | None) -> None:
        cos = cos.double()
        kept = torch.ones(self.num_classes, dtype=torch.bool, device=cos.device)
        if rows is not None:
            kept = torch.zeros_like(kept)
            kept[rows.to(cos.device)] = True
        if self._active is not None:
            kept &= self._active.to(cos.device)
        non_target = kept.unsqueeze(0).expand_as(cos).clone()
        non_target.scatter_(1, idx, False)
        if not bool(non_target.any()):
            return
        s_old = self.scale.double()
        b_avg = torch.where(non_target, torch.exp(s_old * cos), 0.0).sum() / cos.shape[0]
        theta_med = torch.acos(cos.gather(1, idx).clamp(-1.0, 1.0)).median()
        s_new = torch.log(b_avg) / torch.cos(theta_med.clamp(max=math.pi / 4))
        if bool(torch.isfinite(s_new)) and float(s_new) > 0:
            self.scale.copy_(s_new)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dynamic={self.dynamic}, scale={float(self.scale):.4f}"
