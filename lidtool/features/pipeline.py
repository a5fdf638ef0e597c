"""Features as the networks see them: sliding CMN, then only the voiced frames.

This is the order of Kaldi's x-vector egs pipeline
(`apply-cmvn-sliding --norm-vars=false --center=true --cmn-window=300 | select-voiced-frames`):
the normalisation statistics include the silent frames, which are dropped afterwards.
"""
from __future__ import annotations

import numpy as np

from lidtool.errors import FeatureError
from lidtool.features.cmn import sliding_cmn


def prepare_features(feats, vad=None, cmn_window: int = 300, *, utt: str | None = None,
                     min_frames: int = 1, norm_vars: bool = False,
                     where: tuple[str, int | None] = ("<features>", None)) -> np.ndarray:
    """Sliding CMN (centred, means only by default) then keep frames with vad > 0.5.

    `cmn_window=0` skips CMN. Fewer than `min_frames` frames left (e.g. no voiced frame)
    raises FeatureError naming `utt` and `where` = (file, line), e.g. the vad.scp line.
    """
    name = f"utterance '{utt}'" if utt else "utterance"
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise FeatureError(where[0], f"{name}: expected a non-empty [T, D] feature matrix, "
                           f"got shape {feats.shape}", line=where[1])
    out = sliding_cmn(feats, window=cmn_window, norm_vars=norm_vars) if cmn_window else feats
    if vad is not None:
        vad = np.asarray(vad).reshape(-1)
        if vad.size != feats.shape[0]:
            raise FeatureError(where[0], f"{name}: VAD has {vad.size} frames but the "
                               f"features have {feats.shape[0]}", line=where[1],
                               fix="recompute vad.scp from the current feats.scp "
                               "(steps/compute_vad.sh)")
        out = out[vad > 0.5]
    if out.shape[0] < min_frames:
        what = "no voiced frames" if out.shape[0] == 0 else f"only {out.shape[0]} frames"
        raise FeatureError(where[0], f"{name}: {what} left after VAD (need {min_frames})",
                           line=where[1], fix="drop the utterance or relax the VAD config")
    return out
