"""Class-dropping strategies (METHODS.md section 5): DropClass, and the bookkeeping DropAdapt
(lidtool.train.dropadapt) shares with it.

A class-subset strategy trains with only some of the head's rows: the head scores the rows
`rows` (a LongTensor of class ids, sorted) and nothing else (`head(emb, labels, rows=rows)`,
so the softmax runs over those rows only, as if the other rows were deleted), and a label
is the position of its class in `rows` (`remap`, class id -> compact index). The samplers
draw only utterances of the classes whose data is in use. final.pt always holds all M rows
(the artifact of the plain strategy): only the embedding and the kept rows were trained
since their drop, dropped rows keep what the optimiser last did to them (an SGD weight
decay or momentum step still reaches them while they are out of the softmax, as in the
reference implementation, whose optimiser also owns the whole weight matrix).

  dropclass  every `dropclass.period` steps P (round r = step // P), keep a random subset of
             M - `dropclass.drop` classes: rows and batches restricted to it. The subset
             of round r is drawn from numpy's default_rng((train.seed, r, tag)), so it is
             a pure function of (seed, step): resuming anywhere reproduces the run.

The samplers group by the label classes here: `data.group_table` must be null.
"""
from __future__ import annotations

import logging
import zlib

import numpy as np
import torch

from lidtool.errors import ConfigError
from lidtool.train.strategies import Strategy, ce_metrics, register_strategy

log = logging.getLogger(__name__)


def round_rng(seed: int, rnd: int, tag: str) -> np.random.Generator:
    """The random generator of round `rnd` of a strategy (`tag`) in a run seeded `seed`."""
    return np.random.default_rng([int(seed), int(rnd), zlib.crc32(tag.encode("utf-8"))])


def check_period_drop(section: str, cfg: dict, num_classes: int, source: str) -> tuple[int, int]:
    """(period, drop) of config section `section`, checked against the M classes."""
    period, drop = cfg[section]["period"], cfg[section]["drop"]   # ints (config.check_types)
    if period <= 0:
        raise ConfigError(source, f"{section}.period must be a positive integer (steps per "
                          f"round), got {period!r}")
    if not 0 < drop < num_classes:
        raise ConfigError(source, f"{section}.drop must be an integer in [1, {num_classes - 1}]"
                          f" (classes dropped per round of the {num_classes}), got {drop!r}",
                          fix=f"e.g. {section}.drop={max(1, num_classes // 2)}")
    return period, drop


class ClassSubsetStrategy(Strategy):
    """Trains on a subset of the head's rows and of the classes' data (see the module doc)."""

    def setup(self) -> None:
        super().setup()
        if self.cfg["data"].get("group_table"):
            raise ConfigError(self.t.source, f"train.strategy={self.name} drops classes of "
                              f"the label table, but data.group_table="
                              f"{self.cfg['data']['group_table']} makes the samplers group "
                              "by another table", fix="set data.group_table=null")
        self.num_classes = len(self.t.data.classes)
        self.rows: torch.Tensor | None = None        # None: every row is scored
        self.remap: torch.Tensor | None = None       # class id -> index in rows (-1: none)

    def restrict(self, rows, data_classes, merged: dict[int, int] | None = None) -> None:
        """Score the head rows `rows` (class ids; None = all) and sample only utterances of
        `data_classes` (None = all); `merged` {class: row} gives classes whose label becomes
        another row's and whose data the samplers draw as that row's (DropAdapt-Combine)."""
        remap = None
        if rows is not None or merged:
            ids = (torch.arange(self.num_classes) if rows is None else
                   torch.as_tensor(sorted(int(r) for r in rows), dtype=torch.long))
            remap = torch.full((self.num_classes,), -1, dtype=torch.long)
            remap[ids] = torch.arange(len(ids))
            for cls, row in (merged or {}).items():
                remap[cls] = remap[row]
        self.rows = None if rows is None else ids.to(self.t.device)
        self.remap = None if remap is None else remap.to(self.t.device)
        targets = sorted(set((merged or {}).values()))
        for name, sampler in self.samplers().items():
            try:
                for row in targets:
                    sampler.merge([c for c, r in merged.items() if r == row], row)
                sampler.restrict(None if data_classes is None else sorted(data_classes))
            except ValueError as err:
                raise ConfigError(self.t.source, f"{self.name}: sampler '{name}' cannot draw "
                                  f"from the classes left: {err}",
                                  fix="drop fewer classes or use a smaller batch") from None
        self.t.reset_loaders()

    def local_labels(self, y: torch.Tensor) -> torch.Tensor:
        """Labels as positions in `rows` (the compact index the head's logits use)."""
        if self.remap is None:
            return y
        local = self.remap[y]
        if bool((local < 0).any()):
            bad = sorted(set(y[local < 0].tolist()))
            raise RuntimeError(f"{self.name}: a batch holds classes {bad} whose rows were "
                               "dropped")
        return local

    def logits(self, x: torch.Tensor, local: torch.Tensor | None = None) -> torch.Tensor:
        """The head's logits over `rows` (margins on `local` targets when given)."""
        if self.rows is None:
            return self.t.model(x, local)
        return self.t.model(x, local, rows=self.rows)

    def subset_loss(self, x, y):
        local = self.local_labels(y)
        return ce_metrics(self.logits(x, local), local)

    def train_step(self, step: int) -> dict:
        self.t.model.train()
        metrics = self.t.update("main", self.subset_loss)
        n = self.num_classes if self.rows is None else len(self.rows)
        return {**metrics, "classes": n}


@register_strategy
class DropClassStrategy(ClassSubsetStrategy):
    name = "dropclass"
    sections = {"dropclass": {"period": 250, "drop": 0}}

    def setup(self) -> None:
        super().setup()
        self.period, self.drop = check_period_drop("dropclass", self.cfg, self.num_classes,
                                                   self.t.source)
        self.round: int | None = None

    def subset(self, rnd: int) -> np.ndarray:
        """The M - D classes kept in round `rnd` (sorted ids)."""
        rng = round_rng(int(self.cfg["train"]["seed"]), rnd, self.name)
        keep = self.num_classes - self.drop
        return np.sort(rng.choice(self.num_classes, size=keep, replace=False))

    def before_step(self, step: int) -> None:
        rnd = step // self.period
        if rnd == self.round:
            return
        kept = self.subset(rnd)
        self.restrict(kept, kept)
        self.round = rnd
        log.debug("DropClass: round %d at step %d keeps %d of %d classes", rnd, step,
                  len(kept), self.num_classes)

    # Nothing to checkpoint: the subset is a function of (seed, step), so a resumed run
    # (self.round None) recomputes it in its first before_step.


import lidtool.train.dropadapt  # noqa: E402,F401  (registers the dropadapt strategy)
