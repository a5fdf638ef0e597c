"""Training the bottleneck network on forced alignments, with the one trainer.

`train_bnf(data_dir, ali_scp, out_dir, options)` turns the bnf options (BnfOptions, the
command line of `lidtool asr-train-bnf`) into a trainer config and runs lidtool.train's
Trainer with the `frame_ce` strategy on `model.name: bnf`:

  - the aligned utterances of data_dir (those in ali.scp; others are skipped and counted)
    are split into out_dir/data/train and, with valid_fraction > 0, out_dir/data/valid
    (`valid_fraction` of them, at least one, chosen by the seed; `data.valid_dir`). The two
    lists have feats.scp, utt2num_frames and utt2spk but no vad.scp: the network sees every
    frame, silence being one of the recogniser's classes;
  - an epoch is ceil(sum over utterances of ceil(T / chunk_frames) / batch_size) steps (as
    many chunks as the utterances have chunk-sized pieces), of batch_size chunks of
    chunk_frames + 2 * context frames cut at random; `num_epochs` of them;
  - Adam with the learning rate decaying exponentially once per epoch from lr to final_lr
    (sched.name step: decay_every = one epoch, gamma = (final_lr / lr) ** (1 / (epochs-1)));
  - validation (frame accuracy of the held-out utterances) and a checkpoint every epoch.

The config is written to out_dir/bnf.yaml and the trainer's files follow (config.yaml,
train_log.jsonl, checkpoints/, final.pt = the "bnf" artifact); history.json sums up each
epoch (lr, mean training loss/accuracy, held-out loss and frame accuracy). Re-running after
an interruption continues from the last checkpoint and ends with the same weights; a
checkpoint of a run with other options or data is refused.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import yaml

from lidtool.data.datadir import DataDir, write_data_dir
from lidtool.data.tables import read_table
from lidtool.errors import CheckpointError, ConfigError, FeatureError
from lidtool.fileio import atomic_path, write_text_atomic
from lidtool.nnet.bnf import check_layers

log = logging.getLogger(__name__)
# Trainer options that may differ between an interrupted run and its continuation.
_RESUME_FREE = {"train": ("log_every",), "data": ("num_workers", "cache_mb")}


@dataclass
class BnfOptions:
    hidden_dim: int = 256
    layers: list = field(default_factory=lambda: [[5, 1], [3, 1], [3, 2]])  # (kernel, dilation)
    bottleneck_dim: int = 40
    cmn_window: int = 300
    num_epochs: int = 8
    chunk_frames: int = 32
    batch_size: int = 64           # chunks per minibatch
    lr: float = 1e-3
    final_lr: float = 1e-4
    weight_decay: float = 0.0
    valid_fraction: float = 0.05
    seed: int = 1

    @classmethod
    def from_dict(cls, d: dict, source: str = "<options>") -> "BnfOptions":
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(source, f"unknown bnf option(s): {', '.join(unknown)}")
        opts = cls(**d)
        opts.validate(source)
        return opts

    def validate(self, source: str = "<options>") -> None:
        for name in ("hidden_dim", "bottleneck_dim", "cmn_window", "num_epochs",
                     "chunk_frames", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(source, f"bnf option {name} must be an integer >= 1, "
                                  f"got {v!r}")
        try:
            self.layers = check_layers(self.layers)
        except ValueError as err:
            raise ConfigError(source, f"bnf option {err}") from None
        if not (0 < self.final_lr <= self.lr):
            raise ConfigError(source, f"need 0 < final_lr <= lr, got {self.final_lr}, {self.lr}")
        if not (0 <= self.valid_fraction < 1):
            raise ConfigError(source, f"valid_fraction must be in [0, 1), got "
                              f"{self.valid_fraction}")

    @property
    def context(self) -> int:
        """Frames of left (= right) context the network sees."""
        return sum((k - 1) * d for k, d in self.layers) // 2


# ----------------------------------------------------------------------------- data
def split_valid(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices); at least one held out when fraction > 0, n >= 2."""
    if fraction <= 0 or n < 2:
        return np.arange(n), np.arange(0)
    k = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng([seed, 7919]).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def aligned_utterances(data_dir, ali_scp) -> list[str]:
    """The utterances of ali.scp (sorted); each must be in data_dir's feats.scp."""
    feats = DataDir(data_dir).feats_scp
    if feats is None:
        raise FeatureError(Path(data_dir) / "feats.scp", "file does not exist")
    ali = read_table(ali_scp)
    for utt in ali:
        if utt not in feats:
            raise FeatureError(ali_scp, f"utterance '{utt}' is not in {feats.path}",
                               line=ali.lines[utt],
                               fix="align the same data dir the bnf net trains on")
    if not ali:
        raise FeatureError(ali_scp, "no utterance has both an alignment and features")
    log.info("%s: %d aligned utterances (%d utterances of %s without alignment skipped)",
             ali_scp, len(ali), len(feats) - len(ali), feats.path)
    return sorted(ali)


def write_lists(data_dir, utts: list[str], dest) -> Path:
    """A data dir of `utts` with feats.scp, utt2num_frames and utt2spk of data_dir."""
    src, keep = DataDir(data_dir), set(utts)
    tables = {name: {u: v for u, v in table.items() if u in keep}
              for name, table in (("feats.scp", src.feats_scp),
                                  ("utt2num_frames", src.utt2num_frames),
                                  ("utt2spk", src.utt2spk)) if table is not None}
    return write_data_dir(dest, tables)


def plan_split(data_dir, ali_scp, opts: BnfOptions) -> dict[str, list[str]]:
    """{"train": utts, "valid": utts} of the aligned utterances ("valid" may be empty)."""
    utts = aligned_utterances(data_dir, ali_scp)
    train_idx, valid_idx = split_valid(len(utts), opts.valid_fraction, opts.seed)
    return {"train": [utts[i] for i in train_idx], "valid": [utts[i] for i in valid_idx]}


def check_same_split(out_dir, split: dict[str, list[str]], ckpt_path) -> None:
    """A run continues only on the utterance lists it started with."""
    for name, utts in split.items():
        path = Path(out_dir) / "data" / name / "feats.scp"
        old = list(read_table(path)) if path.is_file() else []
        if old != utts:
            raise CheckpointError(ckpt_path, "was written by a training with other options or "
                                  f"data (its {name} utterances were {len(old)}, now "
                                  f"{len(utts)} others)", fix="re-run with the same options, "
                                  f"or delete {Path(ckpt_path).parent} to start again")


def write_split(data_dir, out_dir, split: dict[str, list[str]]) -> tuple[Path, Path | None]:
    """out_dir/data/train and out_dir/data/valid (None when nothing is held out)."""
    root = Path(out_dir) / "data"
    train = write_lists(data_dir, split["train"], root / "train")
    if not split["valid"]:
        return train, None
    return train, write_lists(data_dir, split["valid"], root / "valid")


# ----------------------------------------------------------------------------- config
def steps_per_epoch(lengths, chunk_frames: int, batch_size: int) -> int:
    chunks = sum(max(1, math.ceil(int(t) / chunk_frames)) for t in lengths)
    return max(1, math.ceil(chunks / batch_size))


def trainer_config(opts: BnfOptions, ali_scp, num_pdfs: int, valid_dir, epoch_steps: int):
    """The trainer config (a mapping for lidtool.train.config) of the bnf options."""
    chunk = opts.chunk_frames + 2 * opts.context
    epochs = opts.num_epochs
    gamma = (opts.final_lr / opts.lr) ** (1.0 / (epochs - 1)) if epochs > 1 else 1.0
    return {
        "model": {"name": "bnf", "hidden_dim": opts.hidden_dim, "layers": opts.layers,
                  "bottleneck_dim": opts.bottleneck_dim},
        "data": {"label_table": "none", "frame_labels": str(ali_scp), "num_phones": num_pdfs,
                 "cmn_window": opts.cmn_window, "min_frames": 1, "min_chunk": chunk,
                 "max_chunk": chunk, "preload": True,
                 "valid_dir": str(valid_dir) if valid_dir else None},
        "sampler": {"name": "random"},
        "train": {"strategy": "frame_ce", "steps": epochs * epoch_steps,
                  "batch_size": opts.batch_size, "seed": opts.seed,
                  "log_every": max(1, epoch_steps // 4), "ckpt_every": epoch_steps,
                  "valid_every": epoch_steps, "keep_checkpoints": 2},
        "optim": {"name": "adam", "lr": opts.lr, "weight_decay": opts.weight_decay},
        "sched": {"name": "step", "decay_every": epoch_steps, "gamma": gamma},
    }


def _comparable(cfg: dict) -> dict:
    return {section: {k: v for k, v in values.items() if k not in _RESUME_FREE.get(section, ())}
            if isinstance(values, dict) else values for section, values in cfg.items()}


def check_resumable(ckpt_path, cfg: dict) -> None:
    """A checkpoint continues this run only if it was written with the same config."""
    from lidtool.train.checkpoint import load_checkpoint
    old = load_checkpoint(ckpt_path)["config"]
    if _comparable(old) != _comparable(cfg):
        raise CheckpointError(ckpt_path, "was written by a training with other options or "
                              "data", fix="re-run with the same options, or delete "
                              f"{Path(ckpt_path).parent} to start again")


# ----------------------------------------------------------------------------- history
def epoch_history(train_log, epoch_steps: int) -> list[dict]:
    """Per epoch: last step, lr, mean training loss / frame accuracy and the held-out
    loss / frame accuracy (when validated) from the trainer's train_log.jsonl rows."""
    epochs: dict[int, list[dict]] = {}
    for line in Path(train_log).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        epochs.setdefault(math.ceil(row["step"] / epoch_steps), []).append(row)
    out = []
    for epoch in sorted(epochs):
        rows = epochs[epoch]
        entry = {"epoch": epoch, "step": rows[-1]["step"], "lr": rows[0]["lr"],
                 "train_loss": float(np.mean([r["loss"] for r in rows])),
                 "train_acc": float(np.mean([r["acc"] for r in rows]))}
        entry.update({k: rows[-1][k] for k in ("valid_loss", "valid_acc") if k in rows[-1]})
        out.append(entry)
    return out


# ----------------------------------------------------------------------------- training
def train_bnf(data_dir, ali_scp, out_dir, opts: BnfOptions | None = None, *,
              num_pdfs: int | None = None, device: str | None = None):
    """Train the bnf network; returns the BnfModel of out_dir/final.pt (see the module
    docstring for the files)."""
    from lidtool.asr.bnf import BnfModel
    from lidtool.jobs.dirlock import lock_dir
    from lidtool.train import checkpoint as ckpt_io
    from lidtool.train.config import load_config
    from lidtool.train.data import load_train_data, read_num_phones
    from lidtool.train.distributed import pick_device
    from lidtool.train.trainer import Trainer

    opts = opts or BnfOptions()
    opts.validate()
    out_dir = Path(out_dir)
    n_pdfs = read_num_phones(ali_scp, num_pdfs, "--num-pdfs")
    lock = lock_dir(out_dir, ".train.lock")
    try:
        split = plan_split(data_dir, ali_scp, opts)
        resume = ckpt_io.latest_checkpoint(out_dir)
        if resume is not None:
            check_same_split(out_dir, split, resume)
        train_dir, valid_dir = write_split(data_dir, out_dir, split)
        data = load_train_data(train_dir, [], cmn_window=opts.cmn_window, min_frames=1,
                               label_table="none")
        epoch_steps = steps_per_epoch(data.lengths, opts.chunk_frames, opts.batch_size)
        conf = out_dir / "bnf.yaml"
        mapping = trainer_config(opts, ali_scp, n_pdfs, valid_dir, epoch_steps)
        with atomic_path(conf) as tmp:    # kept only when it continues or starts the run
            Path(tmp).write_text("# lidtool asr-train-bnf: the trainer config of its options\n"
                                 + yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
            cfg = load_config(tmp)
            if resume is not None:
                check_resumable(resume, cfg)
        trainer = Trainer(cfg, data, out_dir, device=pick_device(device), source=str(conf),
                          features={"feature_config": None, "vad_config": None,
                                    "cmn_window": opts.cmn_window})
        if resume is not None:
            trainer.load_checkpoint(resume)
        if trainer.step < trainer.total_steps or not (out_dir / "final.pt").is_file():
            trainer.train()
        history = epoch_history(out_dir / "train_log.jsonl", epoch_steps)
        write_text_atomic(out_dir / "history.json", json.dumps(history, indent=1) + "\n")
        for h in history:
            log.info("epoch %d/%d: lr %.2e, train loss %.3f acc %.3f; held-out loss %s, "
                     "frame accuracy %s", h["epoch"], opts.num_epochs, h["lr"],
                     h["train_loss"], h["train_acc"], h.get("valid_loss", "-"),
                     h.get("valid_acc", "-"))
    finally:
        lock.release()
    model = BnfModel.load(out_dir / "final.pt")
    model.history = history
    return model
