"""Training strategies: what one training step does. The Trainer owns everything else
(model, optimiser, schedule, WMA, checkpoints, DDP, logging).

  plain   one batch from `sampler.name` (random = RS, balanced = BS, alpha), CE on the model.
  dcl     decoupled x-vector: stage 1 = plain for `train.steps`; stage 2 = `dcl.steps` more
          steps with the backbone frozen (no gradient, BatchNorm in eval mode: the backbone
          only extracts embeddings) and the classifier layers (FC segment layers + head),
          re-initialised if `dcl.reinit`, retrained with `dcl.sampler` batches and a fresh
          optimiser (`optim` updated by `dcl.optim`, `sched` by `dcl.sched`).
  wadcl   Algorithm 1 of the WADCL paper: the model is {phi = backbone, h_b = classifier};
          the strategy owns a second classifier h_r. Each step: a random batch updates
          phi + h_r; a balanced batch updates h_b only, phi frozen (run under no_grad, so phi
          gets no gradient; BatchNorm layers of phi use the batch's statistics but do not
          update their running statistics); the trainer's WMA then averages {phi, h_b}, and
          that averaged model is final.pt (no extra parameters at test time).

  multitask  (lidtool.train.multitask) language CE + alpha * frame-level phoneme CE on the
          shared encoder; feeds phone_conf to APM heads; the phoneme branch is dropped at
          inference.

  dropclass, dropadapt  (lidtool.train.class_drop, lidtool.train.dropadapt) train on a
          subset of the head's rows and of the classes' data: a random subset every P steps
          (DropClass), or permanently dropping the classes least probable on unlabelled
          adaptation data (DropAdapt and its Combine / Random / Data-only variants).

A new method is one more subclass: override `setup`, `before_step`
and/or `train_step`, declare its config section in `sections`, and `register_strategy` it.
`uses_frame_labels = True` makes the trainer load `data.frame_labels` (then use
`t.update(name, loss_fn, frames=True)`); `provides_aux` lists the aux inputs its forward passes
give the head (`phone_conf`), checked against the head's `aux_inputs`; `heads()` lists the
classifier heads whose margin the trainer schedules (`head.schedule`).
`artifact(weights)` says what final.pt holds (a "kind" and the weights inference loads;
"classifier" for every strategy here); `needs_classes = False` lets a strategy train
without a label table (data.label_table: none); `num_outputs(data)` is the model's number of
output classes (default: the label table's classes) and `validator()` what validates it.

  frame_ce  (lidtool.train.frame_ce) frame-level cross-entropy on data.frame_labels for a
          frame model (the bottleneck network); final.pt is a "bnf" artifact.

Tools a strategy can use: `t.update(name, loss_fn)` (one optimiser update on the batch of
sampler `name`, with gradient accumulation and mixed precision), `t.make_sampler(kind,
name)`, `t.reset_loaders()`, `t.rebuild_optimizer(params, optim_cfg, sched_cfg, steps)`,
`t.model.classifier.head.set_active_classes(ids)` (mask) or `model(x, y, rows=ids)` (logits
over the kept rows only, labels remapped; lidtool.losses.base), `sampler.restrict(ids)` and
`sampler.merge(ids, into)`.
"""
from __future__ import annotations

import contextlib
import logging

import torch
import torch.nn.functional as F
from torch import nn

from lidtool.errors import ConfigError
from lidtool.train.config import register_section
from lidtool.train.validation import build_validator

log = logging.getLogger(__name__)
STRATEGIES: dict[str, type] = {}


def register_strategy(cls):
    STRATEGIES[cls.name] = cls
    for section, defaults in cls.sections.items():
        register_section(section, defaults)
    return cls


def strategy_class(cfg: dict, source: str = "<config>") -> type:
    name = cfg["train"]["strategy"]
    if name not in STRATEGIES:
        raise ConfigError(source, f"train.strategy: unknown strategy '{name}'",
                          fix=f"use one of: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def build_strategy(trainer) -> "Strategy":
    return strategy_class(trainer.cfg, trainer.source)(trainer)


def ce_metrics(logits: torch.Tensor, labels: torch.Tensor, prefix: str = ""):
    loss = F.cross_entropy(logits, labels)
    acc = (logits.detach().argmax(dim=1) == labels).float().mean()
    return loss, {f"{prefix}loss": float(loss.detach()), f"{prefix}acc": float(acc)}


@contextlib.contextmanager
def frozen_bn_stats(module: nn.Module):
    """BatchNorm layers of `module` normalise with batch statistics but keep their running
    statistics unchanged (momentum 0) inside the block."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.momentum, m.num_batches_tracked.clone()
              if m.num_batches_tracked is not None else None) for m in bns]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


class Strategy:
    name = "base"
    sections: dict = {}
    uses_frame_labels = False
    needs_classes = True            # trains a classifier: data.label_table must not be none
    provides_aux: tuple[str, ...] = ()

    def __init__(self, trainer):
        self.t = trainer
        self.cfg = trainer.cfg

    # -- set-up ---------------------------------------------------------------------------
    @classmethod
    def num_outputs(cls, data) -> int:
        """Output classes of the model the trainer builds (frame labels are attached)."""
        return len(data.classes)

    def setup(self) -> None:
        """Create samplers and auxiliary modules (called once, before any checkpoint load)."""
        self.main = self.t.make_sampler(self.cfg["sampler"]["name"], "main")

    def total_steps(self) -> int:
        return int(self.cfg["train"]["steps"])

    def parameters(self):
        """Parameters of the (first) optimiser."""
        return list(self.t.model.parameters())

    def modules(self) -> list[nn.Module]:
        """Modules whose BatchNorm buffers are synchronised across DDP ranks."""
        return [self.t.model]

    def samplers(self) -> dict:
        return {"main": self.main}

    def heads(self) -> list:
        """Classifier heads trained by this strategy (margin schedules apply to each)."""
        return [self.t.model.classifier.head]

    def validator(self):
        """What evaluates the model every `train.valid_every` steps (None: nothing): by
        default utterance classification on `data.valid_dir` (lidtool.train.validation)."""
        return build_validator(self.cfg, self.t.data, self.t.device)

    # -- per step ---------------------------------------------------------------------------
    def before_step(self, step: int) -> None:
        """Hook run before every step (stage switches, class dropping)."""

    def train_step(self, step: int) -> dict:
        self.t.model.train()
        return self.t.update("main", lambda x, y: ce_metrics(self.t.model(x, y), y))

    # -- what the run writes -------------------------------------------------------------
    def artifact(self, weights: dict) -> dict:
        """What final.pt holds besides the run's common entries (config, classes,
        label_table, feat_dim, features), given the final weights of the model: a "kind"
        and the "model" state dict that inference loads for that kind."""
        return {"kind": "classifier", "model": weights}

    # -- checkpointing -----------------------------------------------------------------
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore strategy state; runs before the optimiser state is loaded, so a strategy
        that changes its optimiser between stages rebuilds it here."""


@register_strategy
class PlainStrategy(Strategy):
    name = "plain"


@register_strategy
class DCLStrategy(Strategy):
    name = "dcl"
    sections = {"dcl": {"steps": 1000, "sampler": "balanced", "reinit": True,
                        "optim": {}, "sched": {}}}

    def setup(self) -> None:
        super().setup()
        self.stage = 1
        if int(self.cfg["dcl"]["steps"]) <= 0:
            raise ConfigError(self.t.source, "dcl.steps must be positive")

    def total_steps(self) -> int:
        return int(self.cfg["train"]["steps"]) + int(self.cfg["dcl"]["steps"])

    def _enter_stage2(self, reinit: bool) -> None:
        t, dcl = self.t, self.cfg["dcl"]
        model = t.model
        for p in model.backbone.parameters():
            p.requires_grad_(False)
        if reinit:
            fresh = model.classifier.fresh().to(t.device)
            t.broadcast(fresh)
            model.classifier.load_state_dict(fresh.state_dict())
        optim_cfg = {**self.cfg["optim"], **(dcl.get("optim") or {})}
        sched_cfg = {**self.cfg["sched"], **(dcl.get("sched") or {})}
        t.rebuild_optimizer(model.classifier.parameters(), optim_cfg, sched_cfg,
                            int(dcl["steps"]))
        self.stage2_sampler = t.make_sampler(dcl["sampler"], "dcl")
        t.reset_loaders()
        if t.wma is not None:
            t.reset_wma()
        self.stage = 2

    def before_step(self, step: int) -> None:
        if self.stage == 1 and step >= int(self.cfg["train"]["steps"]):
            log.info("DCL: step %d, stage 2: backbone frozen, retraining the classifier with "
                     "%s sampling", step, self.cfg["dcl"]["sampler"])
            self._enter_stage2(reinit=bool(self.cfg["dcl"]["reinit"]))

    def train_step(self, step: int) -> dict:
        if self.stage == 1:
            return super().train_step(step)
        model = self.t.model
        model.backbone.eval()
        model.classifier.train()

        def loss_fn(x, y):
            with torch.no_grad():
                pooled = model.backbone(x)
            return ce_metrics(model.classifier(pooled, y), y)
        return {**self.t.update("dcl", loss_fn), "stage": 2}

    def samplers(self) -> dict:
        if self.stage == 2:
            return {**super().samplers(), "dcl": self.stage2_sampler}
        return super().samplers()

    def state_dict(self) -> dict:
        return {"stage": self.stage}

    def load_state_dict(self, state: dict) -> None:
        if int(state.get("stage", 1)) == 2 and self.stage == 1:
            self._enter_stage2(reinit=False)


@register_strategy
class WADCLStrategy(Strategy):
    name = "wadcl"
    sections = {"wadcl": {"random_sampler": "random", "balanced_sampler": "balanced"}}

    def setup(self) -> None:
        t, w = self.t, self.cfg["wadcl"]
        self.h_r = t.model.classifier.fresh().to(t.device)
        t.broadcast(self.h_r)
        self.random = t.make_sampler(w["random_sampler"], "random")
        self.balanced = t.make_sampler(w["balanced_sampler"], "balanced")
        if t.wma is None:
            log.warning("WADCL without WMA (wma.enabled=false): the final model is the raw "
                        "{backbone, h_b}, not Algorithm 1's averaged model")

    def parameters(self):
        return list(self.t.model.parameters()) + list(self.h_r.parameters())

    def modules(self):
        return [self.t.model, self.h_r]

    def samplers(self) -> dict:
        return {"random": self.random, "balanced": self.balanced}

    def heads(self) -> list:
        return [self.t.model.classifier.head, self.h_r.head]

    def random_loss(self, x, y):
        """phi + h_r on a random batch."""
        return ce_metrics(self.h_r(self.t.model.backbone(x), y), y, prefix="r_")

    def balanced_loss(self, x, y):
        """h_b only on a balanced batch; phi is frozen and receives no gradient."""
        phi, h_b = self.t.model.backbone, self.t.model.classifier
        with torch.no_grad(), frozen_bn_stats(phi):
            pooled = phi(x)
        return ce_metrics(h_b(pooled, y), y)

    def train_step(self, step: int) -> dict:
        self.t.model.backbone.train()
        self.h_r.train()
        metrics = self.t.update("random", self.random_loss)
        self.t.model.classifier.train()
        metrics.update(self.t.update("balanced", self.balanced_loss))
        return metrics

    def state_dict(self) -> dict:
        return {"h_r": self.h_r.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.h_r.load_state_dict(state["h_r"])


import lidtool.train.frame_ce  # noqa: E402,F401  (registers the frame_ce strategy)
import lidtool.train.multitask  # noqa: E402,F401  (registers the multitask strategy)
import lidtool.train.class_drop  # noqa: E402,F401  (registers dropclass and dropadapt)
