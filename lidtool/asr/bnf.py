"""Bottleneck ("bnf") features: a frame-level DNN phone classifier trained on the phone
recogniser's forced alignments, whose narrow linear layer gives the features.

Network (a TDNN of 1-D convolutions over time, Kaldi's affine -> ReLU -> BatchNorm order):
sliding-CMN'd features (window 300, as Kaldi's apply-cmvn-sliding) -> `layers` frame layers
of `hidden_dim` channels (default context {-5..5}: kernels 5, 3, 3 with dilations 1, 1, 2)
-> a *linear* bottleneck of `bottleneck_dim` (default 40) -> one more ReLU+BN hidden layer
-> pdf logits. The bottleneck activations are the bnf features; `extract_bnf` repeats the
first/last frame to pad the edges, so an utterance of T frames gives T bnf frames (the
vad.scp of the source data dir stays valid).

Training: cross-entropy on chunks of `chunk_frames` frames cut at random from every aligned
utterance (labels = one pdf-id per feature frame), Adam with a per-epoch exponential decay
from `lr` to `final_lr`; a few utterances (`valid_fraction`) are held out and their frame
accuracy is logged every epoch (epoch 0 = untrained). All randomness of epoch e is drawn from
generators seeded with (seed, e), and <out-dir>/checkpoint.pt (model, optimizer, history) is
written after every epoch, so a re-run after an interruption continues where it stopped and
ends with the same model as an uninterrupted run.

Files: <out-dir>/final.pt = {format "lidtool-bnf", config, feat_dim, num_pdfs, cmn settings,
state_dict, history}; everything is written atomically and loaded with weights_only=True.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import kaldiio
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from lidtool.data.datadir import DataDir
from lidtool.data.tables import merge_tables, read_table
from lidtool.errors import CheckpointError, ConfigError, FeatureError
from lidtool.features.cmn import sliding_cmn
from lidtool.features.reader import FeatureReader
from lidtool.fileio import write_text_atomic
from lidtool.train.checkpoint import load_file, save_file

log = logging.getLogger(__name__)

MODEL_FORMAT = "lidtool-bnf"
CKPT_FORMAT = "lidtool-bnf-checkpoint"
# Options that may differ between an interrupted run and its continuation.
_RESUME_FREE = ("log_interval",)


@dataclass
class BnfConfig:
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
    log_interval: int = 0          # minibatches between loss log lines (0: per epoch only)

    @classmethod
    def from_dict(cls, d: dict, source: str = "<config>") -> "BnfConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(source, f"unknown bnf option(s): {', '.join(unknown)}")
        cfg = cls(**{k: v for k, v in d.items()})
        cfg.validate(source)
        return cfg

    def validate(self, source: str = "<config>") -> None:
        ints = {"hidden_dim": 1, "bottleneck_dim": 1, "cmn_window": 1, "num_epochs": 1,
                "chunk_frames": 1, "batch_size": 1, "log_interval": 0}
        for name, low in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(source, f"bnf option {name} must be an integer >= {low}, "
                                  f"got {v!r}")
        try:
            self.layers = [[int(k), int(d)] for k, d in self.layers]
        except (TypeError, ValueError):
            raise ConfigError(source, f"bnf option layers must be [kernel, dilation] pairs, "
                              f"got {self.layers!r}") from None
        if not self.layers or any(k < 1 or k % 2 == 0 or d < 1 for k, d in self.layers):
            raise ConfigError(source, "bnf layers need odd kernels >= 1 and dilations >= 1, "
                              f"got {self.layers}")
        if not (0 < self.final_lr <= self.lr):
            raise ConfigError(source, f"need 0 < final_lr <= lr, got {self.final_lr}, {self.lr}")
        if not (0 <= self.valid_fraction < 1):
            raise ConfigError(source, f"valid_fraction must be in [0, 1), got "
                              f"{self.valid_fraction}")

    @property
    def context(self) -> int:
        """Frames of left (= right) context the network sees."""
        return sum((k - 1) * d for k, d in self.layers) // 2


def _frame_layer(in_dim: int, out_dim: int, kernel: int = 1, dilation: int = 1):
    return nn.Sequential(nn.Conv1d(in_dim, out_dim, kernel, dilation=dilation), nn.ReLU(),
                         nn.BatchNorm1d(out_dim))


class BnfNet(nn.Module):
    """[B, T + 2 * context, D] -> pdf logits [B, P, T] (`forward`) or bnf [B, T, Bn]
    (`bottleneck`)."""

    def __init__(self, feat_dim: int, num_pdfs: int, cfg: BnfConfig):
        super().__init__()
        layers, in_dim = [], feat_dim
        for kernel, dilation in cfg.layers:
            layers.append(_frame_layer(in_dim, cfg.hidden_dim, kernel, dilation))
            in_dim = cfg.hidden_dim
        self.frames = nn.Sequential(*layers)
        self.bottleneck_layer = nn.Conv1d(in_dim, cfg.bottleneck_dim, 1)   # linear
        self.post = _frame_layer(cfg.bottleneck_dim, cfg.hidden_dim)
        self.output = nn.Conv1d(cfg.hidden_dim, num_pdfs, 1)

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneck_layer(self.frames(x.transpose(1, 2))).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bottleneck_layer(self.frames(x.transpose(1, 2)))
        return self.output(self.post(h))


def pad_edges(feats: np.ndarray, left: int, right: int) -> np.ndarray:
    """Repeat the first frame `left` times and the last `right` times."""
    if left == 0 and right == 0:
        return feats
    return np.concatenate([np.repeat(feats[:1], left, axis=0), feats,
                           np.repeat(feats[-1:], right, axis=0)])


# ----------------------------------------------------------------------------- training data
@dataclass
class FrameData:
    utts: list
    feats: list          # float32 [T + 2c (+ chunk padding), D], CMN'd and edge-padded
    labels: list         # int64 [max(T, chunk)], -100 beyond the utterance
    lengths: list        # T
    feat_dim: int
    num_pdfs: int


def read_num_pdfs(ali_scp, num_pdfs: int | None = None) -> int:
    """`num_pdfs` if given, else the integer in the `num_pdfs` file next to ali.scp."""
    if num_pdfs is not None:
        if num_pdfs < 2:
            raise ConfigError("--num-pdfs", f"need at least 2 classes, got {num_pdfs}")
        return int(num_pdfs)
    path = Path(ali_scp).parent / "num_pdfs"
    if not path.is_file():
        raise FeatureError(ali_scp, f"the number of pdfs is unknown: no {path}",
                           fix="pass --num-pdfs, or keep the model's num_pdfs next to ali.scp")
    text = path.read_text(encoding="utf-8").strip()
    try:
        value = int(text)
    except ValueError:
        raise FeatureError(path, f"expected one integer, got {text[:40]!r}", line=1) from None
    if value < 2:
        raise FeatureError(path, f"need at least 2 classes, got {value}", line=1)
    return value


def load_frame_data(data_dir, ali_scp, cfg: BnfConfig, num_pdfs: int | None = None) -> FrameData:
    """Features (sliding CMN, edge padding) and pdf labels of every aligned utterance.

    Each ali.scp entry must name an utterance of feats.scp with exactly one label per
    feature frame and labels in [0, num_pdfs); otherwise FeatureError names ali.scp, the line
    and the utterance. Utterances without an alignment (failed ones) are skipped."""
    reader = FeatureReader(data_dir, cmn_window=0, use_vad=False,
                           dim_owner="the first utterance has")
    n_classes = read_num_pdfs(ali_scp, num_pdfs)
    ali = read_table(ali_scp)
    feats_scp = reader.feats
    c, chunk = cfg.context, cfg.chunk_frames
    out = FrameData([], [], [], [], 0, n_classes)
    for utt, rx in tqdm(ali.items(), total=len(ali), desc="loading", unit="utt",
                        mininterval=5):
        line = ali.lines[utt]
        if utt not in feats_scp:
            raise FeatureError(ali_scp, f"utterance '{utt}' is not in {feats_scp.path}",
                               line=line, fix="align the same data dir the bnf net trains on")
        try:
            lab = np.asarray(kaldiio.load_mat(rx))
        except Exception as err:   # kaldiio raises assorted errors on missing/garbled arks
            raise FeatureError(ali_scp, f"cannot read the alignment of '{utt}' ({rx}): "
                               f"{type(err).__name__}: {err}", line=line) from None
        if lab.ndim != 1 or lab.dtype.kind not in "iu":
            raise FeatureError(ali_scp, f"the alignment of '{utt}' is not an integer vector "
                               f"(dtype {lab.dtype}, shape {lab.shape})", line=line)
        x = reader.matrix(utt)
        if len(lab) != x.shape[0]:
            raise FeatureError(ali_scp, f"utterance '{utt}' has {len(lab)} frame labels but "
                               f"{x.shape[0]} feature frames in {feats_scp.path}", line=line,
                               fix="re-align with the features of this data dir")
        if x.shape[0] == 0:
            continue
        if int(lab.min()) < 0 or int(lab.max()) >= n_classes:
            bad = int(lab.min()) if int(lab.min()) < 0 else int(lab.max())
            raise FeatureError(ali_scp, f"utterance '{utt}' has label {bad} outside "
                               f"[0, {n_classes})", line=line,
                               fix="use the num_pdfs of the model that wrote ali.scp")
        out.feat_dim = reader.dim = x.shape[1]   # later matrices must have it
        t = x.shape[0]
        x = sliding_cmn(x, window=cfg.cmn_window)
        extra = max(chunk - t, 0)
        out.utts.append(utt)
        out.feats.append(np.ascontiguousarray(pad_edges(x, c, c + extra), dtype=np.float32))
        lab64 = lab.astype(np.int64)
        out.labels.append(np.concatenate([lab64, np.full(extra, -100, np.int64)]))
        out.lengths.append(t)
    if not out.utts:
        raise FeatureError(ali_scp, "no utterance has both an alignment and features")
    skipped = len(feats_scp) - len(out.utts)
    log.info("%s: %d aligned utterances, %d frames, dim %d, %d pdfs (%d utterances of %s "
             "without alignment skipped)", ali_scp, len(out.utts), sum(out.lengths),
             out.feat_dim, n_classes, skipped, feats_scp.path)
    return out


def split_valid(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices); at least one held out when fraction > 0, n >= 2."""
    if fraction <= 0 or n < 2:
        return np.arange(n), np.arange(0)
    k = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng([seed, 7919]).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def _epoch_chunks(data: FrameData, idx: np.ndarray, chunk: int, rng) -> list[tuple[int, int]]:
    """ceil(T / chunk) random chunk starts per utterance, shuffled."""
    out = []
    for i in idx:
        t = data.lengths[i]
        n = max(1, math.ceil(t / chunk))
        starts = rng.integers(0, max(t - chunk, 0) + 1, size=n)
        out.extend((int(i), int(s)) for s in starts)
    order = rng.permutation(len(out))
    return [out[j] for j in order]


def _batch(data: FrameData, items, chunk: int, context: int):
    xs = [data.feats[i][s:s + chunk + 2 * context] for i, s in items]
    ys = [data.labels[i][s:s + chunk] for i, s in items]
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


@torch.no_grad()
def evaluate(net: BnfNet, data: FrameData, idx, device) -> dict:
    """Cross-entropy and frame accuracy over whole utterances (eval mode)."""
    net.eval()
    loss, correct, frames = 0.0, 0, 0
    for i in idx:
        t = data.lengths[i]
        x = torch.from_numpy(data.feats[i][None]).to(device)
        logits = net(x)[0, :, :t].T
        y = torch.from_numpy(data.labels[i][:t]).to(device)
        loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        frames += t
    return {"loss": loss / max(frames, 1), "acc": correct / max(frames, 1), "frames": frames}


# ----------------------------------------------------------------------------- files
def _build(obj: dict, path) -> tuple[BnfNet, BnfConfig]:
    for key in ("config", "feat_dim", "num_pdfs", "state_dict"):
        if key not in obj:
            raise CheckpointError(path, f"has no '{key}' entry")
    try:
        cfg = BnfConfig.from_dict(dict(obj["config"]), source=str(path))
    except (ConfigError, TypeError) as err:
        raise CheckpointError(path, f"bad config: {err}") from None
    net = BnfNet(int(obj["feat_dim"]), int(obj["num_pdfs"]), cfg)
    try:
        net.load_state_dict(obj["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CheckpointError(path, "weights do not fit the network its config describes: "
                              f"{str(err).splitlines()[0][:200]}") from None
    return net, cfg


class BnfModel:
    """A trained bnf network with what extraction needs (CMN window, context, dims)."""

    def __init__(self, net: BnfNet, cfg: BnfConfig, feat_dim: int, num_pdfs: int,
                 history=None, source=None):
        self.net, self.cfg = net.eval(), cfg
        self.feat_dim, self.num_pdfs = int(feat_dim), int(num_pdfs)
        self.history = list(history or [])
        self.source = dict(source or {})

    @property
    def dim(self) -> int:
        return self.cfg.bottleneck_dim

    def to(self, device) -> "BnfModel":
        self.net.to(device)
        return self

    def save(self, path) -> None:
        save_file(path, {"format": MODEL_FORMAT, "version": 1, "config": asdict(self.cfg),
                     "feat_dim": self.feat_dim, "num_pdfs": self.num_pdfs,
                     "cmn": {"window": self.cfg.cmn_window, "center": True, "norm_vars": False},
                     "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
                     "history": self.history, "source": self.source})

    @classmethod
    def load(cls, path, map_location="cpu") -> "BnfModel":
        obj = load_file(path, MODEL_FORMAT, map_location)
        net, cfg = _build(obj, path)
        return cls(net, cfg, obj["feat_dim"], obj["num_pdfs"], obj.get("history"),
                   obj.get("source"))

    @torch.no_grad()
    def extract(self, feats: np.ndarray, where=None) -> np.ndarray:
        """Raw features [T, D] -> bnf [T, bottleneck_dim] (sliding CMN, edge padding)."""
        feats = np.asarray(feats, dtype=np.float32)
        path, line = where if where else ("<features>", None)
        if feats.ndim != 2 or feats.shape[1] != self.feat_dim:
            raise FeatureError(path, f"features of shape {feats.shape} do not fit the bnf "
                               f"network (trained on dimension {self.feat_dim})", line=line,
                               fix="use the feature config the bnf network was trained with")
        if feats.shape[0] == 0:
            raise FeatureError(path, "features have no frames", line=line)
        c = self.cfg.context
        x = pad_edges(sliding_cmn(feats, window=self.cfg.cmn_window), c, c)
        device = next(self.net.parameters()).device
        self.net.eval()
        y = self.net.bottleneck(torch.from_numpy(np.ascontiguousarray(x))[None].to(device))
        return y[0].cpu().numpy().astype(np.float32)


def extract_bnf(model: BnfModel, feats: np.ndarray, where=None) -> np.ndarray:
    return model.extract(feats, where)


# ----------------------------------------------------------------------------- training
def _lr_at(cfg: BnfConfig, epoch: int) -> float:
    """Learning rate of (0-based) epoch: exponential from lr to final_lr."""
    if cfg.num_epochs == 1:
        return cfg.lr
    return cfg.lr * (cfg.final_lr / cfg.lr) ** (epoch / (cfg.num_epochs - 1))


def _comparable(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in _RESUME_FREE}


def _resume(ckpt_path: Path, cfg: BnfConfig, data: FrameData, net, opt, device):
    """(start epoch, history) from a compatible checkpoint, or (0, None)."""
    if not ckpt_path.is_file():
        return 0, None
    obj = load_file(ckpt_path, CKPT_FORMAT, map_location=device)
    old = dict(obj.get("config", {}))
    for k in ("layers",):
        if k in old:
            old[k] = [[int(a), int(b)] for a, b in old[k]]
    if _comparable(old) != _comparable(asdict(cfg)) or obj.get("feat_dim") != data.feat_dim \
            or obj.get("num_pdfs") != data.num_pdfs or obj.get("utts") != len(data.utts):
        raise CheckpointError(ckpt_path, "was written by a training with other options or "
                              "data", fix="re-run with the same options, or delete it to "
                              "start again")
    try:
        net.load_state_dict(obj["model"])
        opt.load_state_dict(obj["optimizer"])
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(ckpt_path, f"unusable state: {str(err)[:200]}",
                              fix="delete it to start again") from None
    log.info("resuming from %s after epoch %d", ckpt_path, obj["epoch"])
    return int(obj["epoch"]), list(obj.get("history", []))


def _save_checkpoint(path, cfg, data, net, opt, epoch, history) -> None:
    save_file(path, {"format": CKPT_FORMAT, "epoch": epoch, "config": asdict(cfg),
                 "feat_dim": data.feat_dim, "num_pdfs": data.num_pdfs,
                 "utts": len(data.utts), "model": net.state_dict(),
                 "optimizer": opt.state_dict(), "history": history})


def train_bnf(data_dir, ali_scp, out_dir, cfg: BnfConfig | None = None, *,
              num_pdfs: int | None = None, device: str | None = None) -> BnfModel:
    """Train the bnf network; writes out_dir/{checkpoint.pt, final.pt, history.json}.

    A run that finds out_dir/checkpoint.pt from an interrupted run with the same options
    continues after its last finished epoch."""
    import json
    cfg = cfg or BnfConfig()
    cfg.validate()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_frame_data(data_dir, ali_scp, cfg, num_pdfs)
    train_idx, valid_idx = split_valid(len(data.utts), cfg.valid_fraction, cfg.seed)
    eval_idx = valid_idx if len(valid_idx) else train_idx
    eval_name = "valid" if len(valid_idx) else "train (nothing held out)"

    torch.manual_seed(cfg.seed)
    net = BnfNet(data.feat_dim, data.num_pdfs, cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = out_dir / "checkpoint.pt"
    start, history = _resume(ckpt, cfg, data, net, opt, device)
    if history is None:
        r = evaluate(net, data, eval_idx, device)
        history = [{"epoch": 0, "valid_loss": r["loss"], "valid_acc": r["acc"]}]
        log.info("epoch 0 (untrained): %s loss %.3f, frame accuracy %.3f (chance about %.3f)",
                 eval_name, r["loss"], r["acc"], 1.0 / data.num_pdfs)
    c, chunk = cfg.context, cfg.chunk_frames
    for epoch in range(start, cfg.num_epochs):
        t0 = time.time()
        rng = np.random.default_rng([cfg.seed, epoch + 1])
        torch.manual_seed(cfg.seed * 100003 + epoch + 1)
        lr = _lr_at(cfg, epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        items = _epoch_chunks(data, train_idx, chunk, rng)
        net.train()
        tot_loss, tot_ok, tot_n = 0.0, 0, 0
        batches = range(0, len(items), cfg.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.num_epochs}", unit="batch",
                   mininterval=5)
        for b, s in enumerate(bar):
            x, y = _batch(data, items[s:s + cfg.batch_size], chunk, c)
            x, y = x.to(device), y.to(device)
            if x.shape[0] == 1:   # BatchNorm needs more than one value per channel
                x, y = torch.cat([x, x]), torch.cat([y, y])
            logits = net(x)
            loss = nn.functional.cross_entropy(logits, y, ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            mask = y != -100
            n = int(mask.sum())
            tot_loss += float(loss.detach()) * n
            tot_ok += int(((logits.argmax(1) == y) & mask).sum())
            tot_n += n
            if cfg.log_interval and (b + 1) % cfg.log_interval == 0:
                log.info("epoch %d batch %d: loss %.3f", epoch + 1, b + 1, tot_loss / tot_n)
        r = evaluate(net, data, eval_idx, device)
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": tot_loss / max(tot_n, 1),
                        "train_acc": tot_ok / max(tot_n, 1), "valid_loss": r["loss"],
                        "valid_acc": r["acc"], "seconds": round(time.time() - t0, 2)})
        log.info("epoch %d/%d: lr %.2e, train loss %.3f acc %.3f; %s loss %.3f, frame "
                 "accuracy %.3f (%.0f s)", epoch + 1, cfg.num_epochs, lr,
                 history[-1]["train_loss"], history[-1]["train_acc"], eval_name, r["loss"],
                 r["acc"], time.time() - t0)
        _save_checkpoint(ckpt, cfg, data, net, opt, epoch + 1, history)
    model = BnfModel(net.cpu(), cfg, data.feat_dim, data.num_pdfs, history,
                     {"data_dir": str(data_dir), "ali_scp": str(ali_scp),
                      "utts": len(data.utts), "valid_utts": int(len(valid_idx))})
    model.save(out_dir / "final.pt")
    write_text_atomic(out_dir / "history.json", json.dumps(history, indent=1) + "\n")
    return model


# ----------------------------------------------------------------------------- data dirs
def write_bnf_arks(model: BnfModel, src_dir, ark_dir, name: str, job: int | str = 1):
    """bnf of every utterance of `src_dir`'s feats.scp -> ark_dir/bnf_<name>.<job>.{ark,scp}
    and .utt2num_frames (each atomic). Returns (scp path, utt -> frames)."""
    from lidtool.data.tables import write_table
    from lidtool.features.io import ArkScpWriter
    reader = FeatureReader(src_dir, cmn_window=0, use_vad=False)
    frames: dict[str, int] = {}
    with ArkScpWriter(ark_dir, name, job, prefix="bnf") as writer:
        for utt in tqdm(sorted(reader.utts), desc=f"bnf {name}.{job}", unit="utt",
                        mininterval=5):
            y = model.extract(reader.matrix(utt), where=reader.where(utt))
            writer.write(utt, y)
            frames[utt] = y.shape[0]
        write_table(writer.ark.with_suffix(".utt2num_frames"), frames)
    return writer.scp, frames


def write_bnf_data_dir(src_dir, dest_dir, part_scps: list) -> Path:
    """A complete data dir at `dest_dir`: every table of `src_dir` (utt2spk, utt2lang,
    wav.scp, text, utt2dur, vad.scp - the frame count is unchanged - ...) with feats.scp and
    utt2num_frames replaced by the merged parts (each `<part>.scp` has a sibling
    `<part>.utt2num_frames`). Every utterance of src's feats.scp must be in exactly one part."""
    from lidtool.data.datadir import load_tables, write_data_dir
    src = DataDir(src_dir)
    if src.feats_scp is None:
        raise FeatureError(src.file("feats.scp"), "file does not exist")
    parts = [Path(p) for p in part_scps]
    u2nfs = [p.with_suffix(".utt2num_frames") for p in parts]
    for p in parts + u2nfs:
        if not p.is_file():
            raise FeatureError(p, "file does not exist", fix="re-run the failed bnf job")
    feats = merge_tables(parts)
    nframes = merge_tables(u2nfs)
    missing = sorted(set(src.feats_scp) - set(feats))
    if missing:
        raise FeatureError(src.file("feats.scp"), f"{len(missing)} utterances have no bnf "
                           f"features (first: '{missing[0]}')", fix="re-run the failed bnf job")
    tables = {n: dict(t) for n, t in load_tables(src).items()}
    tables["feats.scp"] = feats
    tables["utt2num_frames"] = nframes
    # Utterances without source features cannot have bnf features: drop them everywhere.
    keep = set(feats)
    for n in ("utt2spk", "utt2lang", "utt2dur", "vad.scp", "text", "ali.scp", "utt2uniq",
              "segments"):
        if n in tables:
            tables[n] = {k: v for k, v in tables[n].items() if k in keep}
    if "wav.scp" in tables and "segments" not in tables:
        tables["wav.scp"] = {k: v for k, v in tables["wav.scp"].items() if k in keep}
    return write_data_dir(dest_dir, tables)
