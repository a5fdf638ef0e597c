"""Cosine classifier heads with additive margins: AM-, AAM- and APM-Softmax.

All heads here L2-normalise the embeddings and the class weight vectors (no bias), so the
raw score of class j is ``cos theta_j`` and the logits are ``s * cos theta_j`` with the
scale ``s`` (option ``scale``). With ``labels`` (training) only the *target* logit of each
row is changed:

``am_softmax``  (CosFace)   target ``s * (cos theta - m)``
``aam_softmax`` (ArcFace)   target ``s * cos(theta + m)``
``apm_am_softmax``          target ``s * (cos theta - P_i)``
``apm_aam_softmax``         target ``s * cos(theta + P_i)``

with the per-sample APM margin ``P_i = m + beta * p_i``, where ``p_i`` (aux input
``phone_conf [B]``, see :func:`phone_confidence`) is the mean over the chunk's frames of the
phoneme branch's highest posterior. Without labels (inference) every head returns the
margin-free ``s * cos theta``.

The theta + m > pi guard of the angular forms (the ArcFace/InsightFace "easy_margin=False"
variant): cos(theta + m) stops decreasing in theta once theta + m > pi, so a badly wrong
sample would be pushed *further* away. For ``cos theta <= th = cos(pi - m)`` the target
becomes ``cos theta - mm`` with ``mm = m * sin(m)`` instead (the first-order expansion of
cos(theta + m) at the threshold, monotonic in theta). ``easy_margin: true`` selects the other
common variant: the margin is applied only where ``cos theta > 0``, else plain ``cos theta``.

Scale: the paper does not give ``s``. The default 30 is the usual choice for cosine heads
(WeSpeaker uses 32, CosFace 30/64) and is ample for LID's few classes: reaching a target
posterior of 0.99 among C = 10 classes needs only s >= (C-1)/C * ln((C-1) * 99) ~ 6.1.

``phone_conf`` is detached by default (``detach_conf: true``): P_i is meant as a constant
per-sample "how phonetically clear is this chunk" weight. Left attached, the language loss
(which grows with the margin) would send gradient through p_i into the phoneme branch,
teaching it to flatten its posteriors to shrink the margin -- working against the phoneme
loss L_p and letting the network escape the margin instead of meeting it.

``margin`` (m) is schedulable (``lidtool.losses.schedule.MarginScheduler`` calls
``head.update(margin=x)``). For APM heads the schedule drives m only; the beta * p_i term
is applied from the first step (with the paper's mean p ~ 0.002 and beta = 10 it is ~0.02).
"""
from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import nn

from lidtool.losses.base import ClassifierHead, register_head

DEFAULT_SCALE = 30.0


def phone_confidence(phone_logits: torch.Tensor, mask: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """p_i: mean over valid frames of the highest phoneme posterior, [B, T, P] -> [B].

    `mask` [B, T] (bool or 0/1) marks the frames to average (True = real frame); None uses
    all frames. The result keeps the graph (heads detach it themselves, see
    ``detach_conf``); it is computed in float32.
    """
    if phone_logits.dim() != 3:
        raise ValueError(f"phone_logits must be [B, T, P], got shape {tuple(phone_logits.shape)}")
    if phone_logits.shape[1] == 0 or phone_logits.shape[2] == 0:
        raise ValueError(f"phone_logits has no frames or no classes: {tuple(phone_logits.shape)}")
    top = phone_logits.float().softmax(dim=-1).amax(dim=-1)          # [B, T]
    if mask is None:
        return top.mean(dim=1)
    if tuple(mask.shape) != tuple(top.shape):
        raise ValueError(f"mask must be [B, T] = {tuple(top.shape)}, got {tuple(mask.shape)}")
    weights = mask.to(device=top.device, dtype=top.dtype)
    counts = weights.sum(dim=1)
    if bool((counts <= 0).any()):
        empty = (counts <= 0).nonzero().flatten().tolist()
        raise ValueError(f"rows {empty} of the frame mask have no valid frame")
    return (top * weights).sum(dim=1) / counts


def check_number(name: str, value, minimum: float | None = None,
                  strict: bool = False) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (out <= minimum if strict else out < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return out


def angular_target(cos_t: torch.Tensor, margin, easy_margin: bool = False) -> torch.Tensor:
    """cos(theta + margin) with the theta + margin > pi guard (see module docstring).

    `margin` is a float or a tensor broadcastable to `cos_t` (per-sample APM margins).
    """
    m = torch.as_tensor(margin, dtype=cos_t.dtype, device=cos_t.device)
    cos_t = cos_t.clamp(-1.0, 1.0)
    sin_t = torch.sqrt((1.0 - cos_t * cos_t).clamp(min=1e-12))
    phi = cos_t * torch.cos(m) - sin_t * torch.sin(m)
    if easy_margin:
        return torch.where(cos_t > 0, phi, cos_t)
    th = torch.cos(math.pi - m)
    mm = torch.sin(m) * m
    return torch.where(cos_t > th, phi, cos_t - mm)


class CosineHead(ClassifierHead):
    """Class weight vectors compared by cosine with the embedding (no bias); the shared
    part of the margin heads here and of SphereFace / AdaCos."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__(in_dim, num_classes)
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.in_dim))
        nn.init.xavier_uniform_(self.weight)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """cos theta [B, C] between the embeddings and every class weight vector."""
        if emb.dim() != 2 or emb.shape[1] != self.in_dim:
            raise ValueError(f"embeddings must be [B, {self.in_dim}], got {tuple(emb.shape)}")
        return F.linear(F.normalize(emb, dim=1), F.normalize(self.weight, dim=1))

    def target_index(self, cos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """labels [B] checked against the scores `cos` [B, C], as a gather index [B, 1]."""
        if labels.dim() != 1 or labels.shape[0] != cos.shape[0]:
            raise ValueError(f"labels must be [B] with B = {cos.shape[0]}, "
                             f"got {tuple(labels.shape)}")
        labels = labels.to(device=cos.device, dtype=torch.long)
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes})")
        return labels.unsqueeze(1)


class CosineMarginHead(CosineHead):
    """Cosine head with scale s and a margin on the target logit."""

    schedulable = ("margin",)

    def __init__(self, in_dim: int, num_classes: int, margin: float = 0.2,
                 scale: float = DEFAULT_SCALE):
        super().__init__(in_dim, num_classes)
        self.scale = check_number("scale", scale, 0.0, strict=True)
        self.margin = margin

    @property
    def margin(self) -> float:
        return self._margin

    @margin.setter
    def margin(self, value) -> None:
        self._margin = check_number("margin", value, 0.0)

    @abc.abstractmethod
    def target_cos(self, cos_t: torch.Tensor, **aux) -> torch.Tensor:
        """The target class's margin-modified cosine, from its plain cosine [B]."""

    def compute_logits(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                       **aux) -> torch.Tensor:
        cos = self.cosine(emb)
        if labels is None:
            return self.scale * cos
        idx = self.target_index(cos, labels)
        cos_t = cos.gather(1, idx).squeeze(1)
        target = self.target_cos(cos_t, **aux).to(cos.dtype)
        return self.scale * cos.scatter(1, idx, target.unsqueeze(1))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale}, margin={self.margin}"


@register_head("am_softmax")
class AMSoftmaxHead(CosineMarginHead):
    """CosFace / AM-Softmax: target logit s * (cos theta - m)."""

    def target_cos(self, cos_t: torch.Tensor, **aux) -> torch.Tensor:
        return cos_t - self.margin


@register_head("aam_softmax")
class AAMSoftmaxHead(CosineMarginHead):
    """ArcFace / AAM-Softmax: target logit s * cos(theta + m), guarded for theta + m > pi."""

    def __init__(self, in_dim: int, num_classes: int, margin: float = 0.2,
                 scale: float = DEFAULT_SCALE, easy_margin: bool = False):
        super().__init__(in_dim, num_classes, margin, scale)
        self.easy_margin = bool(easy_margin)

    def target_cos(self, cos_t: torch.Tensor, **aux) -> torch.Tensor:
        return angular_target(cos_t, self.margin, self.easy_margin)


class APMHead(CosineMarginHead):
    """Phonetic-confidence margins: P_i = m + beta * p_i, p_i = aux ``phone_conf [B]``."""

    aux_inputs = ("phone_conf",)

    def __init__(self, in_dim: int, num_classes: int, margin: float = 0.2,
                 scale: float = DEFAULT_SCALE, beta: float = 10.0, detach_conf: bool = True,
                 max_margin: float | None = None):
        super().__init__(in_dim, num_classes, margin, scale)
        self.beta = check_number("beta", beta, 0.0)
        self.detach_conf = bool(detach_conf)
        self.max_margin = None if max_margin is None else check_number(
            "max_margin", max_margin, 0.0)

    def sample_margins(self, phone_conf: torch.Tensor | None, batch: int) -> torch.Tensor:
        """P_i [B] from phone_conf [B] (clamped to max_margin when that is set)."""
        if phone_conf is None:
            raise ValueError(f"head '{self.head_name}' needs aux input phone_conf [B] (the mean "
                             "max phoneme posterior per chunk, lidtool.losses.margins."
                             "phone_confidence) when labels are given")
        conf = torch.as_tensor(phone_conf)
        if conf.dim() != 1 or conf.shape[0] != batch:
            raise ValueError(f"phone_conf must be [B] with B = {batch}, "
                             f"got {tuple(conf.shape)}")
        if self.detach_conf:
            conf = conf.detach()
        margins = self.margin + self.beta * conf
        if self.max_margin is not None:
            margins = margins.clamp(max=self.max_margin)
        return margins

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, beta={self.beta}, detach_conf={self.detach_conf}, "
                f"max_margin={self.max_margin}")


@register_head("apm_am_softmax")
class APMAMSoftmaxHead(APMHead):
    """APM-Softmax, AM form: target logit s * (cos theta - P_i)."""

    def target_cos(self, cos_t: torch.Tensor, phone_conf=None, **aux) -> torch.Tensor:
        return cos_t - self.sample_margins(phone_conf, cos_t.shape[0]).to(cos_t)


@register_head("apm_aam_softmax")
class APMAAMSoftmaxHead(APMHead):
    """APM-Softmax, AAM form: target logit s * cos(theta + P_i), guarded like AAM.

    P_i is additionally kept <= pi/2: beyond that even a perfectly aligned sample's target
    cosine would be <= 0 and the guard (which assumes P_i < pi) breaks down.
    """

    def __init__(self, in_dim: int, num_classes: int, margin: float = 0.2,
                 scale: float = DEFAULT_SCALE, beta: float = 10.0, detach_conf: bool = True,
                 max_margin: float | None = None, easy_margin: bool = False):
        super().__init__(in_dim, num_classes, margin, scale, beta, detach_conf, max_margin)
        self.easy_margin = bool(easy_margin)

    def target_cos(self, cos_t: torch.Tensor, phone_conf=None, **aux) -> torch.Tensor:
        margins = self.sample_margins(phone_conf, cos_t.shape[0]).to(cos_t)
        return angular_target(cos_t, margins.clamp(max=math.pi / 2), self.easy_margin)
