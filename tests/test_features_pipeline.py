"""lidtool.features.pipeline: sliding CMN then voiced frames (x-vector egs order)."""
from __future__ import annotations

import numpy as np
import pytest

from lidtool.errors import FeatureError
from lidtool.features.cmn import sliding_cmn
from lidtool.features.pipeline import prepare_features


def test_cmn_before_frame_selection():
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((50, 4)).astype(np.float32) + 5
    vad = (np.arange(50) % 3 == 0).astype(np.float32)
    out = prepare_features(feats, vad)
    np.testing.assert_allclose(out, sliding_cmn(feats)[vad > 0.5], atol=1e-6)
    # the mean removed includes the unvoiced frames (selection comes second)
    assert not np.allclose(out.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(prepare_features(feats), sliding_cmn(feats), atol=1e-6)
    np.testing.assert_array_equal(prepare_features(feats, vad, cmn_window=0), feats[vad > 0.5])


def test_no_voiced_frames_names_the_utterance():
    feats = np.ones((20, 3), np.float32)
    with pytest.raises(FeatureError) as err:
        prepare_features(feats, np.zeros(20), utt="spk1-utt7", where=("data/x/vad.scp", 7))
    msg = str(err.value)
    assert "spk1-utt7" in msg and "data/x/vad.scp:7" in msg and "no voiced frames" in msg
    with pytest.raises(FeatureError, match="only 2 frames"):
        prepare_features(feats, np.r_[np.ones(2), np.zeros(18)], utt="u", min_frames=10)


def test_vad_length_mismatch():
    with pytest.raises(FeatureError, match="VAD has 19 frames but the features have 20"):
        prepare_features(np.ones((20, 3)), np.ones(19), utt="u")
