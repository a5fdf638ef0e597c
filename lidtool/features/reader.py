"""Prepared features of a data dir: feats.scp (+ vad.scp) -> sliding CMN -> voiced frames.

The one reader that training, inference, i-vector and bottleneck work share, so that all of
them see the same frames and report bad input the same way:

  - a feats.scp utterance without a vad.scp entry (when vad.scp exists) is always the same
    DataDirError, naming vad.scp, the utterance and its feats.scp line;
  - a matrix that cannot be read, is empty or has the wrong dimension names feats.scp and the
    line; a VAD problem (unreadable, wrong length, no voiced frame) names vad.scp and the line;
  - utt2num_frames and vad.scp give frame counts without reading any feature matrix (VAD
    vectors are read: they are small), which lets training stream from a large archive.

`get(utt)` equals `prepare_features(read_matrix(feats), read_vector(vad), cmn_window)`.
Tables are read with `lidtool.data.tables` (the plain Kaldi table format, no data-dir logic).
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np

from lidtool.data.tables import Table, read_table
from lidtool.errors import DataDirError, FeatureError
from lidtool.features.io import read_matrix, read_vector
from lidtool.features.pipeline import prepare_features

log = logging.getLogger(__name__)


class FeatureReader:
    """feats.scp (+ vad.scp, utt2num_frames) of `data_dir`.

    cmn_window: sliding CMN window (0: none). use_vad: select voiced frames when vad.scp
    exists. dim: the feature dimension every matrix must have (None: not checked);
    `dim_owner` says whose it is in the error ("the model expects 40").
    keep_unvoiced: an utterance whose VAD has no voiced frame keeps all its frames (with a
    warning) instead of failing - for scoring, where every utterance needs an output.
    """

    def __init__(self, data_dir, *, cmn_window: int = 300, use_vad: bool = True,
                 dim: int | None = None, dim_owner: str = "the model expects",
                 keep_unvoiced: bool = False):
        self.path = Path(data_dir)
        if not self.path.is_dir():
            raise DataDirError(self.path, "data directory does not exist")
        if not (self.path / "feats.scp").is_file():
            raise DataDirError(self.path / "feats.scp", "file does not exist",
                               fix="run the feature stage for this data dir first")
        self.feats = read_table(self.path / "feats.scp")
        self.vad_scp = self._optional("vad.scp") if use_vad else None
        self._utt2num_frames: Table | None | bool = False     # False: not read yet
        self.cmn_window = int(cmn_window)
        self.dim, self.dim_owner = dim, dim_owner
        self.keep_unvoiced = keep_unvoiced
        self._feat_dim: int | None = None

    @property
    def utts(self) -> list[str]:
        """Utterances of feats.scp, in its (sorted) order."""
        return list(self.feats)

    def __len__(self) -> int:
        return len(self.feats)

    def __contains__(self, utt: str) -> bool:
        return utt in self.feats

    def _optional(self, name: str) -> Table | None:
        path = self.path / name
        return read_table(path) if path.is_file() else None

    @property
    def utt2num_frames(self) -> Table | None:
        if self._utt2num_frames is False:
            self._utt2num_frames = self._optional("utt2num_frames")
        return self._utt2num_frames

    @property
    def has_vad(self) -> bool:
        return self.vad_scp is not None

    def where(self, utt: str) -> tuple[str, int | None]:
        """(feats.scp, line) of `utt`."""
        if utt not in self.feats:
            raise self.feats.error(utt, f"no features for '{utt}'")
        return self.feats.where(utt)

    # -- single pieces ------------------------------------------------------------------------
    def matrix(self, utt: str) -> np.ndarray:
        """The raw float32 [T, D] matrix (no CMN, no VAD); the dimension is checked when the
        reader has one."""
        where = self.where(utt)
        mat = read_matrix(self.feats[utt], where=where)
        if self.dim is not None and mat.shape[1] != self.dim:
            raise FeatureError(where[0], f"utterance '{utt}' has feature dimension "
                               f"{mat.shape[1]}, {self.dim_owner} {self.dim}", line=where[1],
                               fix="use the features the model was trained on")
        return mat

    def vad_where(self, utt: str) -> tuple[str, int | None]:
        """(vad.scp, line) of `utt`; a missing entry is THE missing-VAD error."""
        if utt not in self.vad_scp:
            line = self.where(utt)[1]
            raise DataDirError(self.vad_scp.path, f"no VAD entry for utterance '{utt}' "
                               f"(line {line} of {self.feats.path})",
                               fix="recompute VAD (steps/compute_vad.sh) or "
                               "utils/fix_data_dir.sh")
        return self.vad_scp.where(utt)

    def vad(self, utt: str) -> np.ndarray | None:
        """The VAD vector of `utt` (float32 [T]), or None without vad.scp."""
        if self.vad_scp is None:
            return None
        where = self.vad_where(utt)
        return read_vector(self.vad_scp[utt], where=where)

    # -- counts without reading matrices --------------------------------------------------------
    def num_frames(self, utt: str) -> int:
        """Frames of the raw matrix: utt2num_frames, else the VAD's length, else the matrix."""
        u2n = self.utt2num_frames
        if u2n is not None and utt in u2n:
            try:
                return int(u2n[utt])
            except ValueError:
                raise u2n.error(utt, f"'{u2n[utt]}' is not a frame count") from None
        if self.vad_scp is not None:
            return len(self.vad(utt))
        return self.matrix(utt).shape[0]

    def num_voiced(self, utt: str) -> int:
        """Frames that `get(utt)` returns (the VAD's voiced frames, else all frames), from
        vad.scp / utt2num_frames when present, without reading the feature matrix."""
        if self.vad_scp is not None:
            vad = self.vad(utt)
            n = int(np.count_nonzero(vad > 0.5))
            return len(vad) if n == 0 and self.keep_unvoiced else n
        return self.num_frames(utt)

    @property
    def feat_dim(self) -> int:
        """The feature dimension (the reader's `dim`, else that of the first matrix)."""
        if self.dim is not None:
            return self.dim
        if self._feat_dim is None:
            if not self.feats:
                raise DataDirError(self.feats.path, "has no utterances")
            self._feat_dim = int(self.matrix(next(iter(self.feats))).shape[1])
        return self._feat_dim

    # -- prepared features --------------------------------------------------------------------
    def get(self, utt: str, min_frames: int = 1) -> np.ndarray:
        """Prepared features of `utt`: float32 [T', D], C-contiguous. Fewer than `min_frames`
        frames left is a FeatureError naming vad.scp (feats.scp without VAD) and the line."""
        feats = self.matrix(utt)
        where = self.where(utt)
        if feats.shape[0] == 0:
            raise FeatureError(where[0], f"utterance '{utt}' has no frames", line=where[1],
                               fix="remove it from the data dir (utils/fix_data_dir.sh)")
        vad = None
        if self.vad_scp is not None:
            vad = self.vad(utt)
            where = self.vad_where(utt)
            if self.keep_unvoiced and len(vad) == len(feats) and not np.any(vad > 0.5):
                log.warning("%s: '%s' has no voiced frame; using all %d frames",
                            where[0], utt, len(feats))
                vad = None
        out = prepare_features(feats, vad, cmn_window=self.cmn_window, utt=utt,
                               min_frames=min_frames, where=where)
        return np.ascontiguousarray(out, dtype=np.float32)

    def __iter__(self):
        """(utt, prepared features) for every utterance of feats.scp."""
        for utt in self.feats:
            yield utt, self.get(utt)



class PreparedCache:
    """The most recently used prepared utterances of a reader, at most `max_bytes` of them:
    a training run that streams its features cuts several chunks from an utterance while it
    is cached instead of re-reading and re-normalising it for each chunk."""

    def __init__(self, reader: FeatureReader, max_bytes: int, min_frames: int = 1):
        self.reader, self.max_bytes, self.min_frames = reader, int(max_bytes), min_frames
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, utt: str) -> bool:
        return utt in self._items

    def get(self, utt: str) -> np.ndarray:
        if utt in self._items:
            self.hits += 1
            self._items.move_to_end(utt)
            return self._items[utt]
        self.misses += 1
        x = self.reader.get(utt, min_frames=self.min_frames)
        if x.nbytes <= self.max_bytes:
            self._items[utt] = x
            self.nbytes += x.nbytes
            while self.nbytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.nbytes -= old.nbytes
        return x
