"""Bottleneck ("bnf") features: the activations of the linear bottleneck of a frame-level
phone classifier (lidtool.nnet.bnf.BnfNet) trained on the phone recogniser's forced
alignments (lidtool.asr.bnf_train: the trainer's `frame_ce` strategy).

`BnfModel.load(final.pt)` reads the "bnf" artifact the trainer writes (format lidtool-model,
kind "bnf": config, feat_dim, num_pdfs, the feature pipeline's CMN window, weights) and
files of the earlier private training loop (format "lidtool-bnf"; same network and weight
names). `extract` applies sliding CMN (the training window), repeats the first/last frame
`context` times and returns one bnf frame per input frame, so the source data dir's vad.scp
stays valid. `write_bnf_arks` / `write_bnf_data_dir` write bnf data dirs (make-bnf).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lidtool.data.datadir import DataDir
from lidtool.data.tables import merge_tables
from lidtool.errors import CheckpointError, ConfigError, FeatureError
from lidtool.features.cmn import sliding_cmn
from lidtool.features.reader import FeatureReader
from lidtool.nnet.bnf import BnfNet, pad_edges
from lidtool.train.checkpoint import MODEL_FORMAT, load_file

log = logging.getLogger(__name__)

OLD_FORMAT = "lidtool-bnf"      # final.pt of the private loop before the trainer
BNF_KIND = "bnf"


def _network(obj: dict, path) -> tuple[BnfNet, int]:
    """(network with the file's weights, CMN window) of a new or old bnf file."""
    from lidtool.nnet.model import build_model
    old = obj["format"] == OLD_FORMAT
    needed = ("config", "feat_dim", "num_pdfs", "state_dict" if old else "model")
    for key in needed:
        if key not in obj:
            raise CheckpointError(path, f"has no '{key}' entry")
    try:
        if old:
            c = dict(obj["config"])
            net = BnfNet(int(obj["feat_dim"]), int(obj["num_pdfs"]), hidden_dim=c["hidden_dim"],
                         layers=c["layers"], bottleneck_dim=c["bottleneck_dim"])
            cmn_window = int(c["cmn_window"])
        else:
            net = build_model(obj["config"]["model"], {}, int(obj["feat_dim"]),
                              int(obj["num_pdfs"]), source=str(path))
            cmn_window = int(obj["features"]["cmn_window"])
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"bad bnf network config: {err}",
                              fix="retrain it with steps/asr/train_bnf.sh") from None
    if not isinstance(net, BnfNet):
        raise CheckpointError(path, f"model.name '{obj['config']['model'].get('name')}' is "
                              "not a bnf network")
    try:
        net.load_state_dict(obj["state_dict" if old else "model"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CheckpointError(path, "weights do not fit the network its config describes: "
                              f"{str(err).splitlines()[0][:200]}") from None
    return net, cmn_window


class BnfModel:
    """A trained bnf network with what extraction needs (CMN window, context, dims)."""

    def __init__(self, net: BnfNet, feat_dim: int, num_pdfs: int, cmn_window: int):
        self.net = net.eval()
        self.feat_dim, self.num_pdfs = int(feat_dim), int(num_pdfs)
        self.cmn_window = int(cmn_window)
        self.history: list[dict] = []     # per-epoch summary, when just trained

    @property
    def dim(self) -> int:
        return self.net.bottleneck_dim

    @property
    def context(self) -> int:
        return self.net.context

    def to(self, device) -> "BnfModel":
        self.net.to(device)
        return self

    @classmethod
    def load(cls, path, map_location="cpu") -> "BnfModel":
        obj = load_file(path, (MODEL_FORMAT, OLD_FORMAT), map_location)
        if obj["format"] == MODEL_FORMAT and obj.get("kind") != BNF_KIND:
            raise CheckpointError(path, f"holds a '{obj.get('kind', 'classifier')}' model, "
                                  "not a bnf network",
                                  fix="use the final.pt of steps/asr/train_bnf.sh")
        net, cmn_window = _network(obj, path)
        return cls(net, obj["feat_dim"], obj["num_pdfs"], cmn_window)

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
        c = self.context
        x = sliding_cmn(feats, window=self.cmn_window) if self.cmn_window else feats
        x = pad_edges(x, c, c)
        device = next(self.net.parameters()).device
        self.net.eval()
        y = self.net.bottleneck(torch.from_numpy(np.ascontiguousarray(x))[None].to(device))
        return y[0].cpu().numpy().astype(np.float32)


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
