"""Frames from a data dir: feats.scp + vad.scp -> CMN'd voiced frames; clear errors."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest

from lidtool.errors import DataDirError, FeatureError
from lidtool.features.cmn import sliding_cmn
from lidtool.ivector.feats import chunk_utterances, iter_utterance_features


def write_dir(d, feats: dict, vad: dict | None = None):
    d.mkdir(parents=True, exist_ok=True)
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
        for k in sorted(feats):
            w(k, feats[k].astype(np.float32))
    if vad is not None:
        with kaldiio.WriteHelper(f"ark,scp:{d}/vad.ark,{d}/vad.scp") as w:
            for k in sorted(vad):
                w(k, vad[k].astype(np.float32))
    return d


def test_frames_are_cmn_then_voiced(tmp_path):
    rng = np.random.default_rng(0)
    feats = {"a": rng.normal(size=(50, 3)) + 4, "b": rng.normal(size=(30, 3))}
    vad = {"a": (np.arange(50) % 2).astype(float), "b": np.ones(30)}
    d = write_dir(tmp_path / "d", feats, vad)
    got = dict(iter_utterance_features(d, dim=3, cmn_window=300))
    assert list(got) == ["a", "b"]
    expect = sliding_cmn(feats["a"].astype(np.float32), window=300)[1::2]
    assert np.allclose(got["a"], expect, atol=1e-5)
    raw = dict(iter_utterance_features(d, cmn_window=0, use_vad=False))
    assert raw["a"].shape == (50, 3) and np.allclose(raw["a"], feats["a"], atol=1e-5)
    chunks = list(chunk_utterances(iter_utterance_features(d), chunk_frames=10))
    assert [c.utts for c in chunks] == [["a"], ["b"]]
    assert chunks[0].x.shape == (25, 3)


def test_wrong_dimension_names_feats_scp_line(tmp_path):
    rng = np.random.default_rng(0)
    d = write_dir(tmp_path / "d", {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 4))})
    with pytest.raises(FeatureError, match=r"feats.scp:2: utterance 'b' has feature dimension "
                                           r"4, the model expects 3"):
        list(iter_utterance_features(d, dim=3))


def test_utterance_without_voiced_frames_names_vad_line(tmp_path):
    rng = np.random.default_rng(0)
    d = write_dir(tmp_path / "d", {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 3))},
                  {"a": np.ones(20), "b": np.zeros(20)})
    with pytest.raises(FeatureError, match=r"vad.scp:2: utterance 'b': no voiced frames"):
        list(iter_utterance_features(d))


def test_missing_feats_or_vad_entry(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataDirError, match="feats.scp: file does not exist"):
        list(iter_utterance_features(tmp_path / "empty"))
    rng = np.random.default_rng(0)
    d = write_dir(tmp_path / "d", {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 3))},
                  {"a": np.ones(20)})
    with pytest.raises(DataDirError, match="vad.scp: no VAD entry for utterance 'b'"):
        list(iter_utterance_features(d))


def test_chunks_respect_frame_and_utterance_limits():
    utts = [(f"u{i}", np.full((10, 2), i, dtype=np.float32)) for i in range(7)]
    sizes = [len(c.utts) for c in chunk_utterances(utts, chunk_frames=35)]
    assert sizes == [4, 3]
    chunks = list(chunk_utterances(utts, chunk_frames=1000, max_utts=3))
    assert [c.utts for c in chunks] == [["u0", "u1", "u2"], ["u3", "u4", "u5"], ["u6"]]
    assert chunks[1].utt_index.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert float(chunks[1].x[10, 0]) == 4.0
