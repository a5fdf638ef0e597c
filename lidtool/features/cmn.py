"""Sliding-window cepstral mean (and optionally variance) normalisation, as Kaldi's
apply-cmvn-sliding.

Kaldi's window handling (SlidingWindowCmnInternal), reproduced exactly:
- centred (the default here, `--center=true`): frame t uses frames
  [t - window//2, t - window//2 + window); a window running off either end is *shifted*
  back inside the utterance rather than shrunk, so every frame is normalised with
  min(window, T) frames. `min_window` plays no part.
- not centred: frame t uses the `window` frames ending at t, but at least the first
  `min_window` frames of the utterance (so early frames see some look-ahead), clipped to T.
Variance normalisation floors the variance at 1e-10 and gives 0 when the window has one frame.
"""
from __future__ import annotations

import numpy as np


def window_bounds(num_frames: int, window: int = 300, center: bool = True,
                  min_window: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of the normalisation window of every frame (Kaldi's rules)."""
    t = np.arange(num_frames)
    if center:
        start = t - window // 2
        end = start + window
    else:
        start = t - window
        end = t + 1
    shift = np.minimum(start, 0)          # window starting before 0: move it right
    end = end - shift
    start = start - shift
    if not center:
        end = np.where(end > t, np.maximum(t + 1, min_window), end)
    over = np.maximum(end - num_frames, 0)  # running past the end: move it left
    start = np.maximum(start - over, 0)
    end = end - over
    return start, end


def sliding_cmn(feats: np.ndarray, window: int = 300, center: bool = True,
                norm_vars: bool = False, min_window: int = 100) -> np.ndarray:
    """apply-cmvn-sliding on a [T, D] matrix; returns float32 [T, D].

    Computed in float64 from cumulative sums (Kaldi accumulates in double too)."""
    feats = np.asarray(feats)
    if feats.ndim != 2:
        raise ValueError(f"sliding_cmn expects a [T, D] matrix, got shape {feats.shape}")
    if window < 1 or min_window < 1:
        raise ValueError("window and min_window must be positive")
    num_frames = feats.shape[0]
    if num_frames == 0:
        return feats.astype(np.float32)
    x = feats.astype(np.float64)
    start, end = window_bounds(num_frames, window, center, min_window)
    zero = np.zeros((1, x.shape[1]))
    csum = np.concatenate([zero, np.cumsum(x, axis=0)])
    count = (end - start)[:, None].astype(np.float64)
    mean = (csum[end] - csum[start]) / count
    out = x - mean
    if norm_vars:
        csq = np.concatenate([zero, np.cumsum(x * x, axis=0)])
        var = (csq[end] - csq[start]) / count - mean * mean
        out = out / np.sqrt(np.maximum(var, 1e-10))
        out[(end - start) == 1] = 0.0
    return out.astype(np.float32)
