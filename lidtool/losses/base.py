"""The classifier-head interface every language/speaker output layer implements.

A head maps utterance embeddings ``emb [B, D]`` to logits ``[B, C]`` that go straight into
cross-entropy (``torch.nn.functional.cross_entropy(logits, labels)``); the trainer never
knows which head it runs. Contract for implementers (e.g. the AM/AAM/APM heads of
``lidtool.losses.margins``):

``head(emb, labels=None, **aux) -> logits``
    Implement :meth:`ClassifierHead.compute_logits`. When ``labels`` is given (training),
    apply the margin to each row's target logit and any scale, so that
    ``cross_entropy(logits, labels)`` *is* the loss. When ``labels`` is None (inference),
    return margin-free logits (scores). ``aux`` carries per-sample side information a head
    may need, e.g. ``phone_conf [B]`` for APM-Softmax; heads ignore keys they do not use.
    A head lists the aux keys it *requires* in training in the class attribute
    ``aux_inputs``; the trainer checks that the training strategy provides them.

``update(margin=None, **values)``
    Hook for schedulers (margin warm-up, ...): ``head.update(0.1)`` or
    ``head.update(margin=0.1)`` sets an attribute listed in the class attribute
    ``schedulable`` (a margin head lists ``("margin",)``, maybe ``"scale"``); any other name
    is a ``ValueError``. ``compute_logits`` must read the attribute on every call.

``head(emb, labels=None, rows=None, **aux)`` -- a class subset (DropClass / DropAdapt)
    ``rows`` is a 1-D LongTensor of distinct class ids to keep, in the order the caller
    wants them; the logits are then ``[B, len(rows)]`` (column j = class ``rows[j]``) and
    ``labels`` are *remapped* ids in ``0 .. len(rows) - 1``. The result equals a head whose
    weight rows are ``W[rows]``: every head's score of a class depends only on that class's
    row, so the base class computes the full logits with the labels mapped back to class ids
    (``rows[labels]``, margins land on the right rows) and keeps the columns ``rows``;
    dropped rows get exactly zero gradient. A head whose logits depend on the *set* of
    classes (AdaCos's scale from the non-target scores) receives ``rows`` as the aux input
    ``rows`` in :meth:`compute_logits`; all others ignore it like any unused aux key.

``update_step(step)``
    Called by the trainer once per step (with ``head.update``'s margin schedule) with the
    number of optimiser steps done; heads with step-driven hyper-parameters (SphereFace's
    lambda annealing) override it and return the values worth logging. Default: no-op.

``set_active_classes(classes)``
    DropClass support: restrict the softmax to a subset of class ids (LongTensor or list; None
    restores all). Rows of inactive classes get logit ``-inf``, which removes them from the
    softmax exactly as deleting their weight rows would, while labels keep their original ids
    (no remapping needed in the trainer). Training on a label whose class is inactive is an
    error, because its loss would be infinite.

Heads are built by name through :func:`build_head`; a module registers its heads with the
:func:`register_head` decorator and is listed in ``_HEAD_MODULES`` so it gets imported.
"""
from __future__ import annotations

import abc
import importlib

import torch
from torch import nn

_HEADS: dict[str, type] = {}
# Modules that define heads; imported on demand by build_head/head_names. A listed module
# that does not exist (yet) is skipped, so the registry works before margins.py lands.
_HEAD_MODULES = ("lidtool.losses.softmax", "lidtool.losses.margins",
                 "lidtool.losses.sphereface", "lidtool.losses.adacos")


def register_head(name: str):
    """Class decorator: make a ClassifierHead subclass buildable as ``head.name: <name>``."""
    def deco(cls):
        if name in _HEADS and _HEADS[name] is not cls:
            raise ValueError(f"classifier head '{name}' registered twice")
        _HEADS[name] = cls
        cls.head_name = name
        return cls
    return deco


def _load_head_modules() -> None:
    for mod in _HEAD_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name != mod:
                raise


def head_names() -> list[str]:
    _load_head_modules()
    return sorted(_HEADS)


def build_head(name: str, in_dim: int, num_classes: int, **options) -> "ClassifierHead":
    """Build the head registered as `name`; `options` are its keyword arguments.

    Raises KeyError for an unknown name (config code turns it into a ConfigError).
    """
    _load_head_modules()
    if name not in _HEADS:
        raise KeyError(name)
    return _HEADS[name](in_dim, num_classes, **options)


class ClassifierHead(nn.Module, abc.ABC):
    """Base class: embeddings -> logits with optional margins and an active-class mask."""

    head_name = "?"
    schedulable: tuple[str, ...] = ()
    aux_inputs: tuple[str, ...] = ()    # aux keys the head needs when labels are given

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__()
        self.in_dim = int(in_dim)
        self.num_classes = int(num_classes)
        # Boolean mask of active classes; not a parameter and not saved with the model.
        self._active: torch.Tensor | None = None

    # -- to implement -------------------------------------------------------------------
    @abc.abstractmethod
    def compute_logits(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                       **aux) -> torch.Tensor:
        """Logits [B, num_classes]; margins on target logits when `labels` is given."""

    # -- interface used by the trainer and strategies ------------------------------------
    def forward(self, emb: torch.Tensor, labels: torch.Tensor | None = None,
                rows: torch.Tensor | None = None, **aux) -> torch.Tensor:
        if rows is not None:
            rows = self._check_rows(rows, emb.device)
            if labels is not None:
                labels = rows[self._check_subset_labels(labels, len(rows)).to(rows.device)]
            aux["rows"] = rows
        if self._active is not None and labels is not None:
            active = self._active.to(labels.device)
            if not bool(active[labels].all()):
                bad = sorted(set(labels[~active[labels]].tolist()))
                raise ValueError(f"labels {bad} belong to inactive classes of the head")
        logits = self.compute_logits(emb, labels, **aux)
        active = self._active
        if rows is not None:
            logits = logits.index_select(1, rows)
            active = None if active is None else active.to(rows.device)[rows]
        if active is not None:
            logits = logits.masked_fill(~active.to(logits.device), float("-inf"))
        return logits

    def _check_rows(self, rows, device) -> torch.Tensor:
        rows = torch.as_tensor(rows, device=device)
        if rows.dim() != 1 or rows.numel() == 0 or rows.dtype != torch.long:
            raise ValueError(f"rows must be a non-empty 1-D LongTensor of class ids, got "
                             f"{rows.dtype} of shape {tuple(rows.shape)}")
        if int(rows.min()) < 0 or int(rows.max()) >= self.num_classes:
            raise ValueError(f"rows must lie in [0, {self.num_classes})")
        if torch.unique(rows).numel() != rows.numel():
            raise ValueError("rows must not repeat a class")
        return rows

    @staticmethod
    def _check_subset_labels(labels: torch.Tensor, n_rows: int) -> torch.Tensor:
        labels = torch.as_tensor(labels)
        if labels.dim() != 1:
            raise ValueError(f"labels must be [B], got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_rows):
            raise ValueError(f"with rows=, labels are remapped ids in [0, {n_rows})")
        return labels.long()

    def update_step(self, step: int) -> dict:
        """Set step-driven hyper-parameters for global step `step`; returns values to log."""
        return {}

    def continue_after_init(self) -> None:
        """Called once after model.init copied weights (and buffers) into this head, before
        the first step: a head whose step-driven schedule was loaded continues it."""

    def update(self, margin: float | None = None, **values) -> None:
        """Set scheduled hyper-parameters: ``head.update(0.2)`` / ``head.update(margin=0.2)``
        (or any other name listed in ``schedulable``, e.g. ``scale``)."""
        if margin is not None:
            values["margin"] = margin
        for key, value in values.items():
            if key not in self.schedulable:
                raise ValueError(f"head '{self.head_name}' has no schedulable '{key}' "
                                 f"(it has: {', '.join(self.schedulable) or 'none'})")
            setattr(self, key, value)

    def set_active_classes(self, classes) -> None:
        """Restrict the softmax to `classes` (ids); None makes every class active again."""
        if classes is None:
            self._active = None
            return
        idx = torch.as_tensor(classes, dtype=torch.long).flatten()
        if idx.numel() == 0:
            raise ValueError("set_active_classes needs at least one class")
        if int(idx.min()) < 0 or int(idx.max()) >= self.num_classes:
            raise ValueError(f"class ids must lie in [0, {self.num_classes})")
        mask = torch.zeros(self.num_classes, dtype=torch.bool)
        mask[idx] = True
        self._active = mask

    @property
    def active_classes(self) -> torch.Tensor | None:
        return None if self._active is None else self._active.nonzero().flatten()

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, num_classes={self.num_classes}"
