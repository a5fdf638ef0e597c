"""lidtool.features.cmn: Kaldi apply-cmvn-sliding semantics against a hand-written loop."""
from __future__ import annotations

import numpy as np
import pytest

from lidtool.features.cmn import sliding_cmn, window_bounds


def naive_window(t, n, window, center, min_window):
    """Kaldi's rule, spelled out: a centred window is slid (not shrunk) back inside the
    utterance; a left window covers [t - window, t] but at least the first min_window
    frames, and is slid back if that runs past the end."""
    if center:
        start = max(min(t - window // 2, n - window), 0)
        return start, min(start + window, n)
    start = max(t - window, 0)
    end = max(t + 1, min_window)
    if end > n:
        start, end = max(start - (end - n), 0), n
    return start, end


def naive_cmn(x, window, center, min_window, norm_vars):
    out = np.empty_like(x, dtype=np.float64)
    for t in range(len(x)):
        s, e = naive_window(t, len(x), window, center, min_window)
        seg = x[s:e].astype(np.float64)
        out[t] = x[t] - seg.mean(axis=0)
        if norm_vars:
            out[t] = 0.0 if e - s == 1 else out[t] / np.sqrt(np.maximum(seg.var(axis=0), 1e-10))
    return out


def test_centred_window_positions_by_hand():
    start, end = window_bounds(1000, window=300, center=True)
    assert (start[0], end[0]) == (0, 300)        # clipped at the start: slid right
    assert (start[149], end[149]) == (0, 300)
    assert (start[150], end[150]) == (0, 300)
    assert (start[151], end[151]) == (1, 301)
    assert (start[500], end[500]) == (350, 650)  # centred
    assert (start[999], end[999]) == (700, 1000)  # slid left at the end
    start, end = window_bounds(120, window=300, center=True)
    assert set(start) == {0} and set(end) == {120}  # short utterance: all frames


def test_left_window_positions_by_hand():
    start, end = window_bounds(1000, window=300, center=False, min_window=100)
    assert (start[0], end[0]) == (0, 100)          # min_window look-ahead
    assert (start[150], end[150]) == (0, 151)
    assert (start[500], end[500]) == (200, 501)    # Kaldi's window+1 frames
    start, end = window_bounds(50, window=300, center=False, min_window=100)
    assert (start[0], end[0]) == (0, 50)


@pytest.mark.parametrize("n", [1, 7, 150, 299, 300, 301, 777])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("norm_vars", [False, True])
def test_matches_naive_reference(n, center, norm_vars):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 5)).astype(np.float32) * 3 + np.arange(5)
    got = sliding_cmn(x, window=300, center=center, norm_vars=norm_vars, min_window=100)
    ref = naive_cmn(x, 300, center, 100, norm_vars)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_short_utterance_is_global_mean_subtraction():
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], dtype=np.float32)
    np.testing.assert_allclose(sliding_cmn(x), x - x.mean(axis=0), atol=1e-6)


def test_means_only_by_default_keeps_scale():
    x = np.random.default_rng(0).standard_normal((400, 3)).astype(np.float32) * 10
    out = sliding_cmn(x)
    np.testing.assert_allclose(out.std(axis=0), x.std(axis=0), rtol=0.1)
    with pytest.raises(ValueError):
        sliding_cmn(x[0])
