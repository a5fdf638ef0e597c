"""Training data: a chunk dataset over a data dir's feats.scp (+ vad.scp) and its labels.

Labels come from the table `label_table` (lidtool.train.labels: utt2lang by default,
utt2spk, ... or none); `group_table` optionally gives the samplers another grouping.

Every utterance goes through `lidtool.features.reader.FeatureReader` (sliding CMN, then
only the voiced frames of vad.scp are kept; Kaldi's x-vector egs order), exactly as
inference does, so training chunks and test utterances see the same normalisation.
Without `data.preload` the features stream from disk: start-up reads only frame counts
(utt2num_frames / vad.scp) and one matrix, and a bounded cache (`data.cache_mb`) holds the
recently used prepared utterances; the batches are the same as with preloading.

Short utterances (documented rule, `data.min_frames` and the chunk length):
  - fewer than `min_frames` frames after VAD: dropped; the count and the first ids are
    logged as a warning (never silently). If nothing is left, that is an error;
  - at least `min_frames` but shorter than the batch's chunk length: repeated end to end
    ("repeat-pad", as wrapping the recording) up to the chunk length.

Chunks are addressed by (utterance index, start fraction in [0, 1), length): the sampler
draws all randomness, so a batch is a pure function of (seed, step) and resuming is exact.

Frame labels (multi-task training, `data.frame_labels: ali.scp`): an int vector per
utterance with one label (a phone recogniser's pdf-id) per *feature* frame, as
lidtool.asr writes them. `attach_frame_labels` checks every count against the features
(the VAD vector's length, which prepare_features checks against feats.scp, or the feature
matrix when there is no vad.scp) and keeps the labels of the voiced frames only, i.e. the
same vad > 0.5 selection as the features (CMN does not change the frame count). The chunk
dataset then crops and repeat-pads labels and features identically and yields
(chunk [L, D], class id, frame labels [L]). Labels are always held in memory (int32, a
small fraction of the features' size), also when the features are loaded lazily.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lidtool.data.tables import read_table
from lidtool.errors import ConfigError, DataDirError, FeatureError
from lidtool.train.labels import read_groups, read_labels
from lidtool.features.reader import FeatureReader, PreparedCache

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- utterances
@dataclass
class TrainData:
    """The utterances a training run samples from."""

    data_dir: str
    classes: list[str]                  # class names by id ([] without labels)
    utts: list[str]
    labels: np.ndarray                  # int64 [N]; -1 without labels
    lengths: np.ndarray                 # frames after VAD [N]
    feat_dim: int
    cmn_window: int
    feats: list | None = None           # prepared arrays when preloaded
    reader: FeatureReader | None = None     # the data dir's features and VAD (read on
                                            # demand when not preloaded)
    frame_labels: list | None = None    # int32 [T] per utterance (voiced frames), if attached
    num_phones: int | None = None       # number of frame-label classes
    label_table: str = "utt2lang"
    groups: np.ndarray | None = None    # int64 [N] group ids of `group_table`, if any
    group_names: list[str] | None = None
    cache: PreparedCache | None = None  # recently used prepared utterances when streaming

    def __len__(self) -> int:
        return len(self.utts)

    def class_counts(self) -> np.ndarray:
        if not self.classes:
            return np.zeros(0, dtype=np.int64)
        return np.bincount(self.labels, minlength=len(self.classes))

    def sampler_labels(self) -> tuple[np.ndarray, int]:
        """(group id per utterance, number of groups) the samplers draw by: the group
        table's groups if given, else the classes, else one group."""
        if self.groups is not None:
            return self.groups, len(self.group_names)
        if self.classes:
            return self.labels, len(self.classes)
        return np.zeros(len(self.utts), dtype=np.int64), 1

    def get(self, i: int) -> np.ndarray:
        if self.feats is not None:
            return self.feats[i]
        utt = self.utts[i]
        x = self.cache.get(utt) if self.cache is not None else self.reader.get(utt, min_frames=0)
        if len(x) != self.lengths[i]:
            # The count came from utt2num_frames / vad.scp at start-up; the sampler's chunks
            # were planned on it, so a stale table must not pass silently.
            u2n = self.reader.utt2num_frames
            path, line = (u2n.where(utt) if u2n is not None and utt in u2n and
                          not self.reader.has_vad else self.reader.where(utt))
            raise FeatureError(path, f"utterance '{utt}' has {len(x)} frames after VAD, but "
                               f"{int(self.lengths[i])} were counted when training started",
                               line=line, fix="recompute utt2num_frames (utils/fix_data_dir.sh)"
                               " or train with data.preload=true")
        return x


def load_train_data(data_dir, classes: list[str] | None = None, *, cmn_window: int = 300,
                    min_frames: int = 50, preload: bool = True, label_table: str = "utt2lang",
                    group_table: str | None = None, cache_mb: float = 256) -> TrainData:
    """Read feats.scp, vad.scp (optional), `label_table` and `group_table` of `data_dir`.

    `classes` fixes the label map (ids = positions); by default it is the sorted set of
    values of `label_table` (none: no classes, every label -1). `preload` keeps every
    prepared utterance in memory; otherwise only the frame counts are read at start
    (utt2num_frames / vad.scp, see `lidtool.features.reader`) and the features are read when
    a chunk needs them, keeping up to `cache_mb` MB of recently used prepared utterances
    (the batches are identical).
    """
    if not cache_mb >= 0:
        raise ConfigError("data.cache_mb", f"must be a number >= 0, got {cache_mb!r}")
    data_dir = Path(data_dir)
    reader = FeatureReader(data_dir, cmn_window=cmn_window, dim_owner="the first utterance has")
    feats_scp = reader.feats
    classes, label_of = read_labels(data_dir, feats_scp, label_table, classes)
    group_names, group_of = read_groups(data_dir, feats_scp, group_table)
    if reader.has_vad:
        for utt in feats_scp:
            reader.vad_where(utt)
    if feats_scp:
        reader.dim = reader.feat_dim
    utts, labels, lengths, feats = [], [], [], []
    dropped = []
    for utt in tqdm(list(feats_scp), desc=f"loading {data_dir.name}", unit="utt",
                    disable=not log.isEnabledFor(logging.INFO) or len(feats_scp) < 200):
        if preload:
            mat = reader.get(utt, min_frames=0)
            n = len(mat)
        else:
            n = reader.num_voiced(utt)
        if n < min_frames:
            dropped.append((utt, n))
            continue
        utts.append(utt)
        labels.append(label_of[utt])
        lengths.append(n)
        if preload:
            feats.append(mat)
    if dropped:
        log.warning("%s: dropped %d of %d utterances with fewer than %d voiced frames "
                    "(data.min_frames), e.g. %s", data_dir, len(dropped), len(feats_scp),
                    min_frames, ", ".join(f"{u} ({n})" for u, n in dropped[:5]))
    if not utts:
        raise DataDirError(data_dir / "feats.scp", f"no utterance has at least {min_frames} "
                           "voiced frames", fix="lower data.min_frames or check vad.scp")
    cache = None if preload else PreparedCache(reader, int(cache_mb * 2 ** 20), min_frames=0)
    data = TrainData(str(data_dir), list(classes), utts, np.asarray(labels, dtype=np.int64),
                     np.asarray(lengths, dtype=np.int64), int(reader.dim), cmn_window,
                     feats if preload else None, reader,
                     label_table=label_table, cache=cache)
    if group_of is not None:
        data.groups = np.asarray([group_of[u] for u in utts], dtype=np.int64)
        data.group_names = group_names
    empty = [c for c, n in zip(classes, data.class_counts()) if n == 0]
    if empty:
        log.warning("%s: no training utterances for class(es) %s of %s", data_dir,
                    ", ".join(empty), label_table)
    return data


# ----------------------------------------------------------------------------- frame labels
def read_num_phones(ali_scp, num_phones=None, source: str = "<config>") -> int:
    """`num_phones` if given, else the integer in the `num_pdfs` file next to `ali_scp`."""
    if num_phones is not None:
        if isinstance(num_phones, bool) or not isinstance(num_phones, int) or num_phones < 2:
            raise ConfigError(source, f"data.num_phones must be an integer >= 2, "
                              f"got {num_phones!r}")
        return num_phones
    path = Path(ali_scp).parent / "num_pdfs"
    if not path.is_file():
        raise FeatureError(ali_scp, f"the number of label classes is unknown: no {path}",
                           fix="set data.num_phones, or keep the phone recogniser's num_pdfs "
                           "next to ali.scp")
    text = path.read_text(encoding="utf-8").strip()
    try:
        value = int(text)
    except ValueError:
        raise FeatureError(path, f"expected one integer (the number of pdfs), got {text[:40]!r}",
                           line=1) from None
    if value < 2:
        raise FeatureError(path, f"need at least 2 label classes, got {value}", line=1)
    return value


def _read_ali(rx: str, where: tuple[str, int | None], utt: str) -> np.ndarray:
    import kaldiio
    path, line = where
    try:
        value = kaldiio.load_mat(rx)
    except Exception as err:   # kaldiio raises assorted errors on missing/garbled arks
        raise FeatureError(path, f"cannot read the frame labels of '{utt}' ({rx}): "
                           f"{type(err).__name__}: {err}", line=line) from None
    value = np.asarray(value)
    if value.ndim != 1 or value.dtype.kind not in "iu":
        raise FeatureError(path, f"the frame labels of '{utt}' are not an integer vector "
                           f"(dtype {value.dtype}, shape {value.shape})", line=line)
    return value.astype(np.int64)


def attach_frame_labels(data: TrainData, ali_scp, num_phones=None,
                        source: str = "<config>") -> TrainData:
    """Load `ali_scp` (one label per feature frame) for every utterance of `data`, keep the
    voiced frames' labels, and store them in `data.frame_labels` / `data.num_phones`.

    A missing utterance, a frame-count mismatch or a label outside [0, num_phones) is a
    FeatureError naming ali.scp, the line and the utterance.
    """
    ali_scp = Path(ali_scp)
    if not ali_scp.is_file():
        raise FeatureError(ali_scp, "frame-label file (data.frame_labels) does not exist",
                           fix="run the phone-label stage (lidtool.asr) first")
    n_classes = read_num_phones(ali_scp, num_phones, source)
    table = read_table(ali_scp)
    feats_scp = Path(data.data_dir) / "feats.scp"
    out = []
    for i, utt in enumerate(data.utts):
        if utt not in table:
            raise FeatureError(ali_scp, f"utterance '{utt}' of {feats_scp} has no frame labels",
                               fix="decode every training utterance (or drop it from the "
                               "data dir with utils/subset_data_dir.sh)")
        where = table.where(utt)
        ali = _read_ali(table[utt], where, utt)
        vad = data.reader.vad(utt) if data.reader is not None else None
        if vad is not None:
            n_frames = len(vad)
        elif data.feats is not None:
            n_frames = len(data.feats[i])
        else:
            n_frames = int(data.lengths[i])
        if len(ali) != n_frames:
            raise FeatureError(ali_scp, f"utterance '{utt}' has {len(ali)} frame labels but "
                               f"{n_frames} feature frames in {feats_scp}", line=where[1],
                               fix="re-run the phone-label decoding on these features")
        if ali.size and (int(ali.min()) < 0 or int(ali.max()) >= n_classes):
            bad = int(ali.min()) if int(ali.min()) < 0 else int(ali.max())
            raise FeatureError(ali_scp, f"utterance '{utt}' has label {bad} outside "
                               f"[0, {n_classes})", line=where[1],
                               fix="check data.num_phones / num_pdfs")
        if vad is not None:
            ali = ali[vad > 0.5]
        if len(ali) != int(data.lengths[i]):
            raise FeatureError(ali_scp, f"utterance '{utt}': {len(ali)} labels of voiced "
                               f"frames but {int(data.lengths[i])} prepared frames",
                               line=where[1])
        out.append(np.ascontiguousarray(ali, dtype=np.int32))
    data.frame_labels, data.num_phones = out, n_classes
    counts = np.bincount(np.concatenate(out), minlength=n_classes) if out else []
    log.info("%s: frame labels for %d utterances, %d classes (%d used)", ali_scp,
             len(out), n_classes, int(np.count_nonzero(counts)))
    return data


# ----------------------------------------------------------------------------- dataset
class ChunkDataset(torch.utils.data.Dataset):
    """Index with (utt_index, start_fraction, length) -> (chunk [length, D], label), plus the
    chunk's frame labels [length] (int64, same crop and repeat-pad) when the data has them."""

    def __init__(self, data: TrainData):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, item):
        idx, frac, length = item
        feats = self.data.get(int(idx))
        feats = repeat_pad(feats, int(length))
        start = int(frac * (len(feats) - length + 1))
        chunk = feats[start:start + int(length)]
        x, y = torch.from_numpy(np.ascontiguousarray(chunk)), int(self.data.labels[idx])
        if self.data.frame_labels is None:
            return x, y
        frames = repeat_pad(self.data.frame_labels[int(idx)], int(length))
        return x, y, torch.from_numpy(frames[start:start + int(length)].astype(np.int64))


def repeat_pad(feats: np.ndarray, length: int) -> np.ndarray:
    """Tile `feats` along time until it has at least `length` frames."""
    if len(feats) >= length:
        return feats
    reps = -(-length // len(feats))
    return np.concatenate([feats] * reps, axis=0)[:length]
