"""Read the archives a data dir's feats.scp / vad.scp point to (validate-data-dir --check-readable).

Table checks see only the scp text: an archive truncated by a killed job, deleted, or
overwritten by a later extraction still validates. `check_readable` reads every entry (or
a sample) and checks what training relies on: every matrix reads without NaN/Inf, all have
one dimension, the frame count agrees with utt2num_frames, and each VAD vector has as many
frames as its features. The first problem raises FeatureError naming the scp file and line.
"""
from __future__ import annotations

import numpy as np

from lidtool.data.datadir import DataDir
from lidtool.errors import FeatureError
from lidtool.features.io import read_matrix, read_vector


def sample_utts(utts: list[str], sample: int | None, seed: int = 0) -> list[str]:
    """All of `utts` (sample None), or `sample` of them drawn at random (by seed), in order."""
    if sample is None or sample >= len(utts):
        return list(utts)
    rng = np.random.default_rng(seed)
    return sorted(utts[i] for i in rng.choice(len(utts), size=sample, replace=False))


def check_readable(d: DataDir, sample: int | None = None, seed: int = 0) -> dict:
    """Read feats.scp (and vad.scp if present) of `d` for all or `sample` utterances.
    Returns {"checked": n, "dim": D or None}; raises FeatureError on the first bad entry."""
    feats, vad, u2nf = d.feats_scp, d.vad_scp, d.utt2num_frames
    if feats is None and vad is None:
        return {"checked": 0, "dim": None}
    utts = sample_utts(list((feats if feats is not None else vad).keys()), sample, seed)
    dim = first = None
    for utt in utts:
        frames = None
        if feats is not None:
            path, line = where = feats.where(utt)
            mat = read_matrix(feats[utt], where=where)
            if dim is None:
                dim, first = mat.shape[1], utt
            elif mat.shape[1] != dim:
                raise FeatureError(path, f"utterance '{utt}' has dimension {mat.shape[1]} but "
                                   f"'{first}' has {dim}", line=line,
                                   fix="re-extract the features of the whole data dir")
            frames = mat.shape[0]
            if u2nf is not None and utt in u2nf and int(float(u2nf[utt])) != frames:
                raise FeatureError(path, f"utterance '{utt}' has {frames} frames but "
                                   f"utt2num_frames says {u2nf[utt]}", line=line,
                                   fix="re-extract the features (steps/make_feats.sh)")
        if vad is not None:
            path, line = where = vad.where(utt)
            v = read_vector(vad[utt], where=where)
            if frames is not None and v.shape[0] != frames:
                raise FeatureError(path, f"utterance '{utt}': VAD has {v.shape[0]} frames but "
                                   f"its features have {frames}", line=line,
                                   fix="recompute the VAD (steps/compute_vad.sh)")
    return {"checked": len(utts), "dim": dim}
