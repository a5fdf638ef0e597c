"""The one training loop behind every DNN system (strategies plug into it).

Per step: freeze/unfreeze (`model.freeze`, lidtool.train.init) -> strategy.before_step ->
margin schedules (`head.schedule`: MarginScheduler.step with the number of steps done, on
every head of the strategy; the margin is logged as `margin`; then each head's
`update_step(step)`, e.g. SphereFace's lambda, logged as `lambda`) -> strategy.train_step
(each optimiser update goes through `update`: batch, forward, backward, step) -> scheduler
step -> BatchNorm buffers averaged over DDP ranks -> WMA update -> metrics (averaged over
ranks) -> validation (the strategy's `validator()`: `data.valid_dir`, every
`train.valid_every` steps) -> a row of exp/<sys>/train_log.jsonl -> checkpoint every
`train.ckpt_every` steps and at the end. At the end final.pt is written from the
strategy's artifact of the WMA model when WMA is on, else of the model, or of the mean of
the last checkpoints (`train.average_last`).

`model.init` (weights of another model) is applied when training starts at step 0.

Training batches (never validation) go through `augment` (lidtool.train.augment) when it is on.

Only rank 0 writes files, logs and shows the tqdm bar.

Frame labels (`data.frame_labels`) are attached to the training data only for strategies
that use them (`multitask`, `frame_ce`); for others they are ignored with a log line, so a
recipe can pass the same override to every system.
"""
from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lidtool.errors import CheckpointError, ConfigError
from lidtool.fileio import atomic_open, write_text_atomic
from lidtool.losses.schedule import MarginScheduler
from lidtool.nnet.model import build_model, count_parameters
from lidtool.train import checkpoint as ckpt_io
from lidtool.train import distributed as ddp
from lidtool.train.augment import Augmenter
from lidtool.train.averaging import average_last, check_average_last
from lidtool.train.config import dump_config
from lidtool.train.config_diff import apply_hyperparams, check_resume_config, hyperparams
from lidtool.train.data import ChunkDataset, TrainData, attach_frame_labels
from lidtool.train.init import Freezer, load_init, write_report
from lidtool.train.labels import class_map_name, write_class_map
from lidtool.train.optim import build_optimizer, build_scheduler
from lidtool.train.samplers import ChunkBatchSampler, sampler_seed
from lidtool.train.strategies import build_strategy, strategy_class
from lidtool.train.update import Updater
from lidtool.train.wma import WeightMovingAverage

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: dict, data: TrainData, exp_dir, *, device=None,
                 dist: ddp.DistInfo | None = None, source: str = "<config>",
                 features: dict | None = None):
        self.cfg, self.data, self.source = cfg, data, source
        self.exp_dir = Path(exp_dir)
        self.device = torch.device(device or "cpu")
        self.dist = dist or ddp.DistInfo()
        self.features = features or {"feature_config": None, "vad_config": None,
                                     "cmn_window": data.cmn_window}
        seed_everything(int(cfg["train"]["seed"]))
        cls = strategy_class(cfg, source)
        if cls.needs_classes and not data.classes:
            raise ConfigError(source, f"train.strategy={cls.name} trains a classifier, but "
                              "data.label_table is none (no classes)",
                              fix="set data.label_table (utt2lang, utt2spk, ...)")
        self._frame_labels(cls)
        self.model = build_model(cfg["model"], cfg["head"], data.feat_dim, cls.num_outputs(data),
                                 source=source).to(self.device)
        self.broadcast(self.model)
        self.freezer = Freezer(self.model, cfg["model"], source)
        self.updater = Updater(cfg["train"], self.device, self.dist, source)
        self.dataset = ChunkDataset(data)
        self.augmenter = Augmenter.from_config(cfg, data.feat_dim, self.features,
                                               rank=self.dist.rank, source=source)
        self.wma = (WeightMovingAverage(self.model, cfg["wma"]["alpha"])
                    if cfg["wma"]["enabled"] else None)
        self._loaders: dict = {}
        self._samplers: dict = {}
        self._seed_names: dict = {}
        self.step = 0
        self.strategy = build_strategy(self)
        self.strategy.setup()
        self._check_head_inputs()
        self.margin_schedulers = self._margin_schedulers()
        self.total_steps = self.strategy.total_steps()
        self.optimizer, self.scheduler = self._make_optimizer(
            self.strategy.parameters(), cfg["optim"], cfg["sched"], int(cfg["train"]["steps"]))
        check_average_last(cfg["train"], self.total_steps, source)
        self.validator = self.strategy.validator()

    # -- set-up helpers --------------------------------------------------------------------------
    def _frame_labels(self, cls) -> None:
        d = self.cfg["data"]
        if not cls.uses_frame_labels:
            if d.get("frame_labels"):
                log.info("data.frame_labels is ignored: strategy '%s' does not use frame "
                         "labels", cls.name)
            return
        if not d.get("frame_labels"):
            raise ConfigError(self.source, f"train.strategy={cls.name} needs frame labels, "
                              "but data.frame_labels is not set",
                              fix="--override data.frame_labels=<phone labels dir>/ali.scp")
        if self.data.frame_labels is None:
            attach_frame_labels(self.data, d["frame_labels"], d.get("num_phones"), self.source)

    def _check_head_inputs(self) -> None:
        for head in self.strategy.heads():
            missing = [k for k in getattr(head, "aux_inputs", ())
                       if k not in self.strategy.provides_aux]
            if missing:
                raise ConfigError(self.source, f"head '{head.head_name}' needs {missing} in "
                                  f"training, which strategy '{self.strategy.name}' does not "
                                  "provide", fix="use train.strategy=multitask (with "
                                  "data.frame_labels) for APM heads")

    def _margin_schedulers(self) -> list:
        sched_cfg = self.cfg["head"].get("schedule")
        if sched_cfg is None:
            return []
        return [MarginScheduler.from_config(sched_cfg, head, f"{self.source} (head.schedule)")
                for head in self.strategy.heads()]

    def step_margins(self) -> dict:
        """Set the scheduled margin of every head for the current step ({'margin': m}) and
        the heads' own step-driven values (head.update_step, e.g. SphereFace's lambda)."""
        margin = None
        for sched in self.margin_schedulers:
            margin = sched.step(self.step)
        values = {} if margin is None else {"margin": margin}
        for head in self.strategy.heads():
            values.update(head.update_step(self.step))
        return values

    # -- tools for strategies ------------------------------------------------------------------
    def broadcast(self, module) -> None:
        ddp.broadcast_module(module, self.dist)

    def make_sampler(self, kind: str, name: str) -> ChunkBatchSampler:
        """Sampler `name` (its seed is unique to the name) drawing `kind` batches over the
        data's sampler groups (TrainData.sampler_labels)."""
        c = self.cfg
        seed = sampler_seed(int(c["train"]["seed"]), name)
        if self._seed_names.setdefault(seed, name) != name:
            raise ConfigError(self.source, f"samplers '{name}' and '{self._seed_names[seed]}' "
                              "would draw the same batches (their seeds collide)",
                              fix="rename one of them")
        groups, n_groups = self.data.sampler_labels()
        batch = int(c["train"]["batch_size"])
        parts = self.dist.world_size * self.updater.accum
        if batch % parts:
            raise ConfigError(self.source, f"train.batch_size {batch} is not divisible by "
                              f"{self.dist.world_size} process(es) x train.accum_steps "
                              f"{self.updater.accum}")
        try:
            sampler = ChunkBatchSampler(
                kind, groups, batch,
                min_chunk=c["data"]["min_chunk"], max_chunk=c["data"]["max_chunk"],
                seed=seed, alpha=float(c["sampler"]["alpha"]), rank=self.dist.rank,
                world_size=self.dist.world_size, num_classes=n_groups)
        except ValueError as err:
            raise ConfigError(self.source, f"sampler '{name}': {err}") from None
        self._samplers[name] = sampler
        self._loaders.pop(name, None)
        return sampler

    def _make_optimizer(self, params, optim_cfg, sched_cfg, steps):
        names = {id(p): n for n, p in self.model.named_parameters()}
        with self.freezer.thawed():
            optimizer = build_optimizer(params, optim_cfg, self.source, names)
        return optimizer, build_scheduler(optimizer, sched_cfg, steps)

    def rebuild_optimizer(self, params, optim_cfg, sched_cfg, steps) -> None:
        self.optimizer, self.scheduler = self._make_optimizer(params, optim_cfg, sched_cfg, steps)

    def reset_wma(self) -> None:
        self.wma = WeightMovingAverage(self.model, self.cfg["wma"]["alpha"])

    def reset_loaders(self) -> None:
        self._loaders.clear()

    def _next(self, name: str):
        if name not in self._loaders:
            sampler = self._samplers[name]
            loader = torch.utils.data.DataLoader(
                self.dataset, batch_sampler=sampler.batches(self.step),
                num_workers=int(self.cfg["data"]["num_workers"]))
            self._loaders[name] = iter(loader)
        batch = [t.to(self.device, non_blocking=True) for t in next(self._loaders[name])]
        if self.augmenter is not None:
            batch[0] = self.augmenter(batch[0], self.step, name)
        return batch

    def next_batch(self, name: str):
        """The batch (x [B, L, D], y [B]) of sampler `name` for the current step, on the
        device."""
        x, y = self._next(name)[:2]
        return x, y

    def next_batch_with_frames(self, name: str):
        """(x, y, frame labels [B, L]) of sampler `name` for the current step (the data must
        have frame labels: strategies with `uses_frame_labels`)."""
        batch = self._next(name)
        if len(batch) != 3:
            raise RuntimeError("the training data has no frame labels (data.frame_labels)")
        return tuple(batch)

    def update(self, name: str, loss_fn, *, frames: bool = False) -> dict:
        """One optimiser update on the batch of sampler `name` for the current step:
        `loss_fn(x, y[, frame labels]) -> (loss, metrics)` (lidtool.train.update: gradient
        accumulation, train.amp, DDP averaging, clipping). Returns the metrics."""
        batch = self.next_batch_with_frames(name) if frames else self.next_batch(name)
        return self.updater.run(self.optimizer, batch, loss_fn)

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": ckpt_io.CKPT_FORMAT, "step": self.step, "config": self.cfg,
                "classes": self.data.classes, "label_table": self.data.label_table,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "samplers": {k: s.state_dict() for k, s in self.strategy.samplers().items()},
                "strategy": self.strategy.state_dict(),
                "wma": self.wma.state_dict() if self.wma is not None else None,
                "margin_schedulers": [m.state_dict() for m in self.margin_schedulers],
                "freeze": self.freezer.state_dict(),
                "amp_scaler": self.updater.precision.state_dict(),
                "rng": ckpt_io.rng_state()}

    def save_checkpoint(self) -> Path | None:
        if not self.dist.is_main:
            return None
        path = ckpt_io.checkpoint_path(self.exp_dir, self.step)
        ckpt_io.save_file(path, self.state_dict())
        ckpt_io.prune_checkpoints(self.exp_dir, int(self.cfg["train"]["keep_checkpoints"]))
        return path

    def load_checkpoint(self, path, apply_config: bool = False) -> None:
        """Continue from checkpoint `path`. A config that differs from the checkpoint's in
        more than the step budget is refused, or with `apply_config` used as given
        (lidtool.train.config_diff)."""
        state = ckpt_io.load_checkpoint(path)
        check_resume_config(path, state["config"], self.cfg, apply_config, log)
        classes = list(state.get("classes", state.get("langs", self.data.classes)))
        if classes != list(self.data.classes):
            raise CheckpointError(path, f"checkpoint classes {classes} differ from this run's "
                                  f"{self.data.classes} ({self.data.label_table})")
        try:
            self.model.load_state_dict(state["model"])
            self.strategy.load_state_dict(state.get("strategy") or {})
            fresh = hyperparams(self.optimizer, self.scheduler) if apply_config else None
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            if fresh is not None:
                apply_hyperparams(self.optimizer, self.scheduler, fresh)
            samplers = self.strategy.samplers()
            for name, s_state in (state.get("samplers") or {}).items():
                if name in samplers:
                    samplers[name].load_state_dict(s_state)
            if self.wma is not None and state.get("wma") is not None:
                self.wma.load_state_dict(state["wma"])
            for sched, s_state in zip(self.margin_schedulers,
                                      state.get("margin_schedulers") or []):
                sched.load_state_dict(s_state)
            if state.get("freeze") is not None:
                self.freezer.load_state_dict(state["freeze"])
            self.updater.precision.load_state_dict(state.get("amp_scaler"))
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(path, f"does not match this run's model/config: "
                                  f"{str(err).splitlines()[0][:300]}",
                                  fix="resume with the config it was trained with") from None
        ckpt_io.set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.reset_loaders()
        log.info("resumed from %s at step %d", path, self.step)

    # -- the loop ------------------------------------------------------------------------------
    def final_model(self) -> torch.nn.Module:
        return self.wma.model if self.wma is not None else self.model

    def _write_run_files(self) -> None:
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.exp_dir / "config.yaml", dump_config(self.cfg))
        map_name = class_map_name(self.data.label_table)
        if map_name is not None:
            write_class_map(self.exp_dir / map_name, self.data.classes)

    def _apply_init(self) -> None:
        """model.init at step 0 (a resumed run has the weights in its checkpoint)."""
        init = self.cfg["model"].get("init")
        if not init or self.step != 0:
            return
        report = load_init(self.model, init, self.source)
        for head in self.strategy.heads():
            head.continue_after_init()
        if self.wma is not None:
            self.reset_wma()
        if self.dist.is_main:
            write_report(self.exp_dir / "init_report.json", report)

    def _logged_lr(self) -> float:
        group = self.optimizer.param_groups[0]
        return group["lr"] / group["lr_scale"] if group.get("lr_scale") else group["lr"]

    def final_weights(self) -> dict:
        n = int(self.cfg["train"]["average_last"])
        if n > 1:
            return average_last(self.exp_dir, n, self.step)
        return self.final_model().state_dict()

    def _open_log(self):
        """train_log.jsonl, keeping only lines up to the current step (after a resume)."""
        path = self.exp_dir / "train_log.jsonl"
        kept = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line)["step"] <= self.step:
                        kept.append(line)
                except (ValueError, KeyError):
                    continue
        with atomic_open(path) as f:
            f.writelines(k + "\n" for k in kept)
        return open(path, "a", encoding="utf-8")

    def train(self) -> dict:
        cfg = self.cfg["train"]
        main = self.dist.is_main
        if main:
            self._write_run_files()
            log.info("model %s: %d parameters; strategy %s; %d steps; %d training utterances, "
                     "%d classes (%s)", self.cfg["model"]["name"], count_parameters(self.model),
                     self.strategy.name, self.total_steps, len(self.data),
                     len(self.data.classes), self.data.label_table)
        self._apply_init()
        valid_every = int(cfg["valid_every"] or cfg["ckpt_every"])
        logf = self._open_log() if main else None
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step",
                   disable=not main, dynamic_ncols=True,
                   mininterval=0.5 if sys.stderr.isatty() else 60)
        last: dict = {}
        start = time.time()
        try:
            while self.step < self.total_steps:
                self.freezer.update(self.step)
                self.strategy.before_step(self.step)
                margin = self.step_margins()
                with self.freezer.bn_context():
                    metrics = {**self.strategy.train_step(self.step), **margin}
                lr = self._logged_lr()
                self.scheduler.step()
                for module in self.strategy.modules():
                    ddp.average_buffers(module, self.dist)
                if self.wma is not None:
                    self.wma.update(self.model)
                metrics = ddp.average_scalars(metrics, self.dist, self.device)
                self.step += 1
                last = {"step": self.step, **{k: round(v, 6) for k, v in metrics.items()},
                        "lr": lr, "time": round(time.time() - start, 3)}
                if self.validator is not None and (self.step % valid_every == 0
                                                   or self.step == self.total_steps):
                    last.update(self.validator.evaluate(self.final_model()))
                if main:
                    logf.write(json.dumps(last) + "\n")
                    logf.flush()
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.3f}",
                                    acc=f"{metrics.get('acc', float('nan')):.3f}")
                    if self.step % int(cfg["log_every"]) == 0 or self.step == self.total_steps:
                        log.info("step %d/%d %s", self.step, self.total_steps,
                                 " ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
                if self.step % int(cfg["ckpt_every"]) == 0 or self.step == self.total_steps:
                    self.save_checkpoint()
        finally:
            bar.close()
            if logf is not None:
                logf.close()
            self.reset_loaders()
        if self.dist.enabled:
            diff = ddp.max_rank_difference(self.strategy.modules(), self.dist)
            if diff > 1e-5:
                raise RuntimeError(f"DDP ranks diverged: weights differ by up to {diff:g}")
            log.info("DDP: all %d ranks hold the same weights (max difference %g)",
                     self.dist.world_size, diff)
        if main:
            ckpt_io.save_model(self.exp_dir / "final.pt",
                               self.strategy.artifact(self.final_weights()), config=self.cfg,
                               classes=self.data.classes, label_table=self.data.label_table,
                               feat_dim=self.data.feat_dim, features=self.features)
            log.info("wrote %s", self.exp_dir / "final.pt")
        ddp.barrier(self.dist)
        return last
