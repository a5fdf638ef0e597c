"""The one training loop behind every DNN system (strategies plug into it).

Per step: strategy.before_step -> margin schedules (`head.schedule`: MarginScheduler.step
with the number of steps done, on every head of the strategy; the margin is logged as
`margin`) -> strategy.train_step (batches, forward, backward, optimiser
steps through `optimize`) -> scheduler step -> BatchNorm buffers averaged over DDP ranks ->
WMA update -> metrics (averaged over ranks) appended to exp/<sys>/train_log.jsonl ->
checkpoint every `train.ckpt_every` steps and at the end. At the end final.pt is written
from the WMA model when WMA is on, else from the model.

Only rank 0 writes files, logs and shows the tqdm bar.

Frame labels (`data.frame_labels`) are attached to the training data only for strategies
that use them (`multitask`); for others they are ignored with a log line, so a recipe can
pass the same override to every system.
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
from lidtool.train.config import dump_config
from lidtool.train.data import ChunkDataset, TrainData, attach_frame_labels, write_lang2id
from lidtool.train.optim import build_optimizer, build_scheduler
from lidtool.train.samplers import ChunkBatchSampler
from lidtool.train.strategies import build_strategy, strategy_class
from lidtool.train.wma import WeightMovingAverage

log = logging.getLogger(__name__)
_SAMPLER_SEEDS = {"main": 0, "random": 1, "balanced": 2, "dcl": 3}


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
        self.model = build_model(cfg["model"], cfg["head"], data.feat_dim, len(data.langs),
                                 source=source).to(self.device)
        self.broadcast(self.model)
        self._frame_labels(strategy_class(cfg, source))
        self.dataset = ChunkDataset(data)
        self.wma = (WeightMovingAverage(self.model, cfg["wma"]["alpha"])
                    if cfg["wma"]["enabled"] else None)
        self._loaders: dict = {}
        self._samplers: dict = {}
        self.step = 0
        self.strategy = build_strategy(self)
        self.strategy.setup()
        self._check_head_inputs()
        self.margin_schedulers = self._margin_schedulers()
        self.total_steps = self.strategy.total_steps()
        self.optimizer, self.scheduler = self._make_optimizer(
            self.strategy.parameters(), cfg["optim"], cfg["sched"], int(cfg["train"]["steps"]))

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
        """Set the scheduled margin of every head for the current step; {'margin': m}."""
        margin = None
        for sched in self.margin_schedulers:
            margin = sched.step(self.step)
        return {} if margin is None else {"margin": margin}

    # -- tools for strategies ------------------------------------------------------------------
    def broadcast(self, module) -> None:
        ddp.broadcast_module(module, self.dist)

    def make_sampler(self, kind: str, name: str) -> ChunkBatchSampler:
        c = self.cfg
        try:
            sampler = ChunkBatchSampler(
                kind, self.data.labels, int(c["train"]["batch_size"]),
                min_chunk=c["data"]["min_chunk"], max_chunk=c["data"]["max_chunk"],
                seed=int(c["train"]["seed"]) * 100 + _SAMPLER_SEEDS.get(name, 9),
                alpha=float(c["sampler"]["alpha"]), rank=self.dist.rank,
                world_size=self.dist.world_size, num_classes=len(self.data.langs))
        except ValueError as err:
            from lidtool.errors import ConfigError
            raise ConfigError(self.source, f"sampler '{name}': {err}") from None
        self._samplers[name] = sampler
        self._loaders.pop(name, None)
        return sampler

    def _make_optimizer(self, params, optim_cfg, sched_cfg, steps):
        optimizer = build_optimizer(params, optim_cfg, self.source)
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
        return [t.to(self.device, non_blocking=True) for t in next(self._loaders[name])]

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

    def optimize(self, loss: torch.Tensor) -> None:
        """Backward `loss`, average gradients over ranks, clip, and step the optimiser.
        Only parameters that received a gradient are updated (and decayed)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        ddp.average_gradients(params, self.dist)
        clip = float(self.cfg["train"]["grad_clip"] or 0.0)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
        self.optimizer.step()

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": ckpt_io.CKPT_FORMAT, "step": self.step, "config": self.cfg,
                "langs": self.data.langs, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "samplers": {k: s.state_dict() for k, s in self.strategy.samplers().items()},
                "strategy": self.strategy.state_dict(),
                "wma": self.wma.state_dict() if self.wma is not None else None,
                "margin_schedulers": [m.state_dict() for m in self.margin_schedulers],
                "rng": ckpt_io.rng_state()}

    def save_checkpoint(self) -> Path | None:
        if not self.dist.is_main:
            return None
        path = ckpt_io.checkpoint_path(self.exp_dir, self.step)
        ckpt_io.save_file(path, self.state_dict())
        ckpt_io.prune_checkpoints(self.exp_dir, int(self.cfg["train"]["keep_checkpoints"]))
        return path

    def load_checkpoint(self, path) -> None:
        state = ckpt_io.load_checkpoint(path)
        if list(state.get("langs", self.data.langs)) != list(self.data.langs):
            raise CheckpointError(path, f"checkpoint languages {state.get('langs')} differ "
                                  f"from this run's {self.data.langs}")
        try:
            self.model.load_state_dict(state["model"])
            self.strategy.load_state_dict(state.get("strategy") or {})
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            samplers = self.strategy.samplers()
            for name, s_state in (state.get("samplers") or {}).items():
                if name in samplers:
                    samplers[name].load_state_dict(s_state)
            if self.wma is not None and state.get("wma") is not None:
                self.wma.load_state_dict(state["wma"])
            for sched, s_state in zip(self.margin_schedulers,
                                      state.get("margin_schedulers") or []):
                sched.load_state_dict(s_state)
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
        write_lang2id(self.exp_dir / "lang2id", self.data.langs)

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
                     "%d languages", self.cfg["model"]["name"], count_parameters(self.model),
                     self.strategy.name, self.total_steps, len(self.data), len(self.data.langs))
        logf = self._open_log() if main else None
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step",
                   disable=not main, dynamic_ncols=True,
                   mininterval=0.5 if sys.stderr.isatty() else 60)
        last: dict = {}
        start = time.time()
        try:
            while self.step < self.total_steps:
                self.strategy.before_step(self.step)
                margin = self.step_margins()
                metrics = {**self.strategy.train_step(self.step), **margin}
                lr = self.optimizer.param_groups[0]["lr"]
                self.scheduler.step()
                for module in self.strategy.modules():
                    ddp.average_buffers(module, self.dist)
                if self.wma is not None:
                    self.wma.update(self.model)
                metrics = ddp.average_scalars(metrics, self.dist, self.device)
                self.step += 1
                last = {"step": self.step, **{k: round(v, 6) for k, v in metrics.items()},
                        "lr": lr, "time": round(time.time() - start, 3)}
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
            ckpt_io.save_model(self.exp_dir / "final.pt", self.final_model(), config=self.cfg,
                               langs=self.data.langs, feat_dim=self.data.feat_dim,
                               features=self.features)
            log.info("wrote %s", self.exp_dir / "final.pt")
        ddp.barrier(self.dist)
        return last
