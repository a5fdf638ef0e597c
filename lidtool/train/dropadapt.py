"""DropAdapt (METHODS.md section 5): adapt a trained classifier network to unlabelled data by
permanently dropping the classes it finds least probable there.

    model: {init: {path: exp/xvector/final.pt}}     # required: the model to adapt
    data:  {adapt_dir: data/test_feats}             # feats.scp (+ vad.scp); no labels used
    train: {strategy: dropadapt, steps: 2000}
    dropadapt: {period: 500, drop: 2000, mode: drop, min_classes: 2, max_frames: 0}

A round starts at step 0 and then every `period` steps. It computes

    p_average = mean over the adaptation utterances of softmax(scores over the active rows)

with the model being trained, in eval mode, on each whole utterance (or its first
`max_frames` prepared frames when > 0), of the raw cosines for the cosine-margin heads (as
the reference code; no scale s, no margin) and of the logits for softmax heads, and logs
KL(p_average || uniform over the active rows). (METHODS.md: the reference code sums the
probabilities over the enrolment side of the trial list, the same ranking as this mean.) Then it
drops `drop` classes of the remaining ones for good, by `mode`:

  drop       the least probable ones: their head rows leave the softmax and their
             utterances leave the batches (DropAdapt);
  combine    the least probable ones: their rows leave, their utterances stay, relabelled as
             one extra class (DropAdapt-Combine). That class uses the row of the lowest-id
             class of the first drop, set to the mean of the first drop's rows (every head
             tensor with one row per class: weight, bias) with its optimiser state (momentum,
             Adam moments) zeroed; classes dropped later join it and the row keeps training
             (not re-initialised). The samplers draw the merged data as one class. With
             WMA on, the averaged model's copy of that row follows it gradually;
  random     D classes chosen at random (rng of (train.seed, round)): the Drop-Random control;
  data_only  the least probable ones lose their utterances but keep their rows (all rows
             stay in the softmax): the Drop-Only-Data control.

Ranking ties go to the lower class id. A round never leaves fewer than `min_classes`
remaining classes: it drops min(drop, remaining - min_classes) (clamped, never an error);
once there, rounds still measure p_average and KL but drop nothing. The
Baseline-more-steps control is the plain strategy from the same `model.init` for the same
steps (a config, no code).

What it writes: every train_log.jsonl row has `classes` (rows in the softmax); the row of a
round's first step (logged as "step": round step + 1, the steps done) also has `round` and
`kl_uniform` (p_average measured before that step's drop). exp/<sys>/dropadapt_rounds.json is
rewritten at every round (and on resume, cut to the checkpoint's rounds):

    {"mode": "drop", "period": P, "drop": D, "min_classes": 2, "num_classes": M,
     "combined_row": null | "<class whose row is the combined class>",
     "rounds": [{"round": 0, "step": 0, "kl_uniform": 0.41, "rows": M,
                 "dropped": ["spk0012", ...], "p_dropped": [1.2e-05, ...],
                 "kept": ["spk0001", ...]}, ...]}

where `kept` lists the classes whose data remains after the round's drop, `rows` the rows
in the softmax when p_average was measured. final.pt holds all M rows plus
"dropadapt": {"mode", "kept" (class names), "combined_row"}, so a language recogniser
adapted to a test set can score only its kept languages.

Works with any label table: speakers (utt2spk) or languages (utt2lang).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from lidtool.errors import ConfigError
from lidtool.fileio import write_text_atomic
from lidtool.features.reader import FeatureReader
from lidtool.losses.margins import CosineHead
from lidtool.train.class_drop import ClassSubsetStrategy, check_period_drop, round_rng
from lidtool.train.data import repeat_pad
from lidtool.train.strategies import register_strategy

log = logging.getLogger(__name__)
MODES = ("drop", "combine", "random", "data_only")
ROUNDS_FILE = "dropadapt_rounds.json"


# ----------------------------------------------------------------------------- the measures
@torch.no_grad()
def p_average(model, utterances, device, rows: torch.Tensor | None = None,
              max_frames: int = 0) -> np.ndarray:
    """Mean softmax [len(rows)] (all classes when rows is None) of the model's margin-free
    logits over `utterances` (iterable of (utt, prepared features [T, D])), in eval mode."""
    was_training = model.training
    model.eval()
    total, count = None, 0
    try:
        for _, feats in utterances:
            feats = np.asarray(feats, dtype=np.float32)
            if max_frames > 0:
                feats = feats[:max_frames]
            feats = repeat_pad(feats, model.min_frames)
            x = torch.from_numpy(np.ascontiguousarray(feats)).unsqueeze(0).to(device)
            p = torch.softmax(adaptation_scores(model, x, rows).double(), dim=1)[0]
            total = p if total is None else total + p
            count += 1
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("p_average needs at least one adaptation utterance")
    return (total / count).cpu().numpy()


def adaptation_scores(model, x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """The scores p_average is a softmax of: the raw cosines for the cosine-margin heads
    (the reference code's; their scale s would sharpen the softmax towards each utterance's
    winner and can reorder classes whose means are close), the logits otherwise."""
    head = model.classifier.head
    if isinstance(head, CosineHead):
        cos = head.cosine(model.classifier.head_input(model.backbone(x)))
        return cos if rows is None else cos[:, rows]
    return model(x) if rows is None else model(x, None, rows=rows)


def kl_to_uniform(p) -> float:
    """KL(p || uniform over len(p) classes) in nats: log K - H(p)."""
    p = np.asarray(p, dtype=np.float64)
    nz = p[p > 0]
    return float(np.sum(nz * np.log(nz * len(p))))


def least_probable(p_by_class: np.ndarray, candidates, d: int) -> np.ndarray:
    """The `d` classes of `candidates` (ids) with the lowest p_by_class[id] (ties: lower id
    first), sorted by id."""
    cand = np.asarray(sorted(int(c) for c in candidates), dtype=np.int64)
    if not 0 <= d <= len(cand):
        raise ValueError(f"cannot drop {d} of {len(cand)} classes")
    values = np.asarray(p_by_class, dtype=np.float64)[cand]
    if not np.all(np.isfinite(values)):
        raise ValueError("p_average is not finite for some candidate classes")
    order = np.argsort(values, kind="stable")
    return np.sort(cand[order[:d]])


# ----------------------------------------------------------------------------- the strategy
@register_strategy
class DropAdaptStrategy(ClassSubsetStrategy):
    name = "dropadapt"
    sections = {"dropadapt": {"period": 500, "drop": 0, "mode": "drop", "min_classes": 2,
                              "max_frames": 0}}

    def setup(self) -> None:
        super().setup()
        cfg, source = self.cfg, self.t.source
        self.period, self.drop = check_period_drop("dropadapt", cfg, self.num_classes, source)
        sec = cfg["dropadapt"]
        self.mode = sec["mode"]
        if self.mode not in MODES:
            raise ConfigError(source, f"dropadapt.mode: '{self.mode}' is not one of "
                              f"{', '.join(MODES)}")
        self.min_classes = sec["min_classes"]
        if not 1 <= self.min_classes < self.num_classes:      # an int (config.check_types)
            raise ConfigError(source, "dropadapt.min_classes must be an integer in "
                              f"[1, {self.num_classes - 1}], got {self.min_classes!r}")
        self.max_frames = int(sec["max_frames"])
        if self.max_frames < 0:
            raise ConfigError(source, f"dropadapt.max_frames must be >= 0 (0: whole "
                              f"utterances), got {self.max_frames}")
        batch = int(cfg["train"]["batch_size"])
        if cfg["sampler"]["name"] == "distinct" and self.min_classes < batch:
            # the last rounds would leave fewer classes than one batch needs
            raise ConfigError(source, f"the distinct sampler needs {batch} classes per batch "
                              f"(train.batch_size), but dropadapt.min_classes="
                              f"{self.min_classes} lets the drops go below that",
                              fix=f"set dropadapt.min_classes >= {batch}")
        if not (cfg["model"].get("init") or {}).get("path"):
            raise ConfigError(source, "train.strategy=dropadapt adapts a trained model, but "
                              "model.init is not set",
                              fix="--override model.init.path=exp/<trained>/final.pt")
        adapt_dir = cfg["data"].get("adapt_dir")
        if not adapt_dir:
            raise ConfigError(source, "train.strategy=dropadapt needs the unlabelled "
                              "adaptation data: data.adapt_dir is not set",
                              fix="--override data.adapt_dir=<data dir with feats.scp>")
        # as inference reads a test set: an utterance without voiced frames is kept whole
        self.adapt = FeatureReader(adapt_dir, cmn_window=int(cfg["data"]["cmn_window"]),
                                   dim=self.t.data.feat_dim, keep_unvoiced=True,
                                   dim_owner="the training data has")
        if not len(self.adapt):
            raise ConfigError(source, f"data.adapt_dir {adapt_dir} has no utterances")
        self.adapt.get(self.adapt.utts[0])      # a wrong feature dimension fails now
        self.remaining = list(range(self.num_classes))   # classes whose data is in use
        self.combined_row: int | None = None
        self.merged: list[int] = []                      # classes merged into combined_row
        self.rounds: list[dict] = []
        self._round_metrics: dict = {}                   # logged with the round's step

    # -- the state of the drops -----------------------------------------------------------
    def active_rows(self) -> list[int] | None:
        if self.mode == "data_only" or len(self.remaining) == self.num_classes:
            return None
        if self.combined_row is not None:
            return sorted(self.remaining + [self.combined_row])
        return list(self.remaining)

    def _apply(self) -> None:
        data = self.remaining + ([self.combined_row] if self.combined_row is not None else [])
        self.restrict(self.active_rows(), data,
                      {c: self.combined_row for c in self.merged} or None)

    def _init_combined_row(self, dropped: np.ndarray) -> None:
        """The combined class's row := mean of the dropped rows; its optimiser state zeroed."""
        row, idx = int(dropped.min()), torch.as_tensor(dropped, dtype=torch.long)
        head = self.t.model.classifier.head
        with torch.no_grad():
            for p in head.parameters():
                if p.dim() >= 1 and p.shape[0] == self.num_classes:
                    p[row] = p[idx.to(p.device)].mean(dim=0)
                    for value in self.t.optimizer.state.get(p, {}).values():
                        if torch.is_tensor(value) and value.shape == p.shape:
                            value[row] = 0
        self.combined_row = row

    def choose(self, p_by_class: np.ndarray, n: int, rnd: int) -> np.ndarray:
        if self.mode == "random":
            rng = round_rng(int(self.cfg["train"]["seed"]), rnd, self.name)
            return np.sort(rng.choice(np.asarray(self.remaining), size=n, replace=False))
        return least_probable(p_by_class, self.remaining, n)

    def run_round(self, step: int) -> dict:
        rnd = step // self.period
        rows = self.active_rows()
        rows_t = None if rows is None else torch.as_tensor(rows, device=self.t.device)
        utterances = ((utt, self.adapt.get(utt)) for utt in self.adapt.utts)
        p = p_average(self.t.model, utterances, self.t.device, rows_t, self.max_frames)
        row_ids = np.arange(self.num_classes) if rows is None else np.asarray(rows)
        p_by_class = np.full(self.num_classes, np.nan)
        p_by_class[row_ids] = p
        kl = kl_to_uniform(p)
        n = max(0, min(self.drop, len(self.remaining) - self.min_classes))
        dropped = self.choose(p_by_class, n, rnd) if n else np.zeros(0, dtype=np.int64)
        if len(dropped):
            if self.mode == "combine":
                if self.combined_row is None:
                    self._init_combined_row(dropped)
                self.merged = sorted(self.merged + dropped.tolist())
            gone = set(dropped.tolist())
            self.remaining = [c for c in self.remaining if c not in gone]
            self._apply()
        names = self.t.data.classes
        record = {"round": rnd, "step": step, "kl_uniform": round(kl, 6), "rows": len(p),
                  "dropped": [names[c] for c in dropped],
                  "p_dropped": [float(p_by_class[c]) for c in dropped],
                  "kept": [names[c] for c in self.remaining]}
        self.rounds.append(record)
        log.info("DropAdapt round %d (step %d): KL(p_average||U) %.4f over %d rows; dropped "
                 "%d (%s), %d classes remain", rnd, step, kl, len(p), len(dropped), self.mode,
                 len(self.remaining))
        self.write_rounds()
        return {"round": rnd, "kl_uniform": kl}

    def write_rounds(self) -> None:
        if not self.t.dist.is_main:
            return
        out = {"mode": self.mode, "period": self.period, "drop": self.drop,
               "min_classes": self.min_classes, "num_classes": self.num_classes,
               "combined_row": (None if self.combined_row is None
                                else self.t.data.classes[self.combined_row]),
               "max_frames": self.max_frames, "rounds": self.rounds}
        Path(self.t.exp_dir).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(self.t.exp_dir) / ROUNDS_FILE, json.dumps(out, indent=1) + "\n")

    # -- per step ---------------------------------------------------------------------------
    def before_step(self, step: int) -> None:
        self._round_metrics = self.run_round(step) if step % self.period == 0 else {}

    def train_step(self, step: int) -> dict:
        return {**super().train_step(step), **self._round_metrics}

    def artifact(self, weights: dict) -> dict:
        names = self.t.data.classes
        return {**super().artifact(weights),
                "dropadapt": {"mode": self.mode, "kept": [names[c] for c in self.remaining],
                              "combined_row": (None if self.combined_row is None
                                               else names[self.combined_row])}}

    # -- checkpointing -----------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"remaining": list(self.remaining), "combined_row": self.combined_row,
                "merged": list(self.merged), "rounds": self.rounds}

    def load_state_dict(self, state: dict) -> None:
        self.remaining = [int(c) for c in state["remaining"]]
        self.combined_row = state["combined_row"]
        self.merged = [int(c) for c in state["merged"]]
        self.rounds = list(state["rounds"])
        self._apply()
        self.write_rounds()
