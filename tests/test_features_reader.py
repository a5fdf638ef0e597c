"""lidtool.features.reader: the one reader of prepared features (feats.scp + vad.scp + CMN)
and its bounded cache; the missing-VAD error is the same for every consumer."""
from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest

from lidtool.errors import DataDirError, FeatureError
from lidtool.features import reader as reader_mod
from lidtool.features.io import read_matrix, read_vector
from lidtool.features.pipeline import prepare_features
from lidtool.features.reader import FeatureReader, PreparedCache
from test_train_data import make_feats_dir


def _drop_line(path: Path, key: str) -> None:
    lines = [ln for ln in path.read_text().splitlines() if ln.split()[0] != key]
    path.write_text("\n".join(lines) + "\n")


def test_get_equals_prepare_features_for_every_utterance(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(3, 2))
    feats = kaldiio.load_scp(str(d / "feats.scp"))
    vads = kaldiio.load_scp(str(d / "vad.scp"))
    reader = FeatureReader(d, cmn_window=50)
    assert reader.utts == sorted(feats) and reader.feat_dim == 8
    for utt, x in reader:
        expect = prepare_features(read_matrix(feats._dict[utt]), read_vector(vads._dict[utt]),
                                  cmn_window=50)
        assert x.dtype == np.float32 and x.flags.c_contiguous
        assert np.array_equal(x, expect)
        assert reader.num_voiced(utt) == len(x) < len(feats[utt])
    raw = FeatureReader(d, cmn_window=0, use_vad=False)
    utt = reader.utts[0]
    assert np.array_equal(raw.get(utt), feats[utt]) and raw.num_voiced(utt) == len(feats[utt])


def test_missing_vad_entry_is_one_error_for_every_consumer(tmp_path):
    from lidtool.inference.jobs import prepared_utterances
    from lidtool.ivector.feats import iter_utterance_features
    from lidtool.train.data import load_train_data
    d = make_feats_dir(tmp_path / "d", counts=(2, 2))
    _drop_line(d / "vad.scp", "lang1-u000")      # line 3 of feats.scp
    consumers = [lambda: FeatureReader(d).get("lang1-u000"),
                 lambda: list(iter_utterance_features(d)),
                 lambda: list(prepared_utterances(d, 50)),
                 lambda: load_train_data(d, min_frames=5),
                 lambda: load_train_data(d, min_frames=5, preload=False)]
    messages = set()
    for consume in consumers:
        with pytest.raises(DataDirError) as err:
            consume()
        messages.add(str(err.value))
    assert messages == {f"{d / 'vad.scp'}: no VAD entry for utterance 'lang1-u000' "
                        f"(line 3 of {d / 'feats.scp'}) (fix: recompute VAD "
                        "(steps/compute_vad.sh) or utils/fix_data_dir.sh)"}


def test_dimension_mismatch_names_the_feats_scp_line(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    rng = np.random.default_rng(0)
    mats = {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 3)),
            "c": rng.normal(size=(20, 4))}
    kaldiio.save_ark(str(d / "f.ark"), {k: v.astype(np.float32) for k, v in mats.items()},
                     scp=str(d / "feats.scp"))
    reader = FeatureReader(d, dim=3, dim_owner="the first utterance has")
    assert reader.get("b").shape == (20, 3)
    with pytest.raises(FeatureError, match=r"feats.scp:3: utterance 'c' has feature dimension "
                                           r"4, the first utterance has 3"):
        reader.get("c")


def test_vad_problems_name_the_vad_scp_line(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(2,))
    kaldiio.save_ark(str(d / "vad.ark"), {"lang0-u000": np.ones(5, np.float32),
                                          "lang0-u001": np.zeros(70, np.float32)},
                     scp=str(d / "vad.scp"))
    reader = FeatureReader(d, cmn_window=50)
    with pytest.raises(FeatureError, match=r"vad.scp:1: utterance 'lang0-u000': VAD has 5 "):
        reader.get("lang0-u000")
    n = len(read_matrix(reader.feats["lang0-u001"]))
    (d / "vad.ark").unlink()
    kaldiio.save_ark(str(d / "vad.ark"), {"lang0-u000": np.ones(5, np.float32),
                                          "lang0-u001": np.zeros(n, np.float32)},
                     scp=str(d / "vad.scp"))
    with pytest.raises(FeatureError, match=r"vad.scp:2: utterance 'lang0-u001': no voiced"):
        FeatureReader(d).get("lang0-u001")
    # scoring keeps every frame of an all-silent utterance instead
    keep = FeatureReader(d, cmn_window=50, keep_unvoiced=True)
    assert keep.get("lang0-u001").shape == (n, 8) and keep.num_voiced("lang0-u001") == n


def test_counts_come_without_reading_matrices(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(2, 1))
    feats = dict(kaldiio.load_scp(str(d / "feats.scp")))
    n_voiced = {u: int(np.sum(kaldiio.load_scp(str(d / "vad.scp"))[u] > 0.5)) for u in feats}
    (d / "utt2num_frames").write_text("".join(f"{u} {len(m)}\n" for u, m in feats.items()))
    (d / "feats.ark").unlink()      # feats.scp now points into a missing archive
    reader = FeatureReader(d)
    assert {u: reader.num_voiced(u) for u in reader.utts} == n_voiced
    assert {u: reader.num_frames(u) for u in reader.utts} == {u: len(m) for u, m in
                                                              feats.items()}
    (d / "vad.scp").unlink()
    reader = FeatureReader(d)
    assert {u: reader.num_voiced(u) for u in reader.utts} == {u: len(m) for u, m in
                                                              feats.items()}
    with pytest.raises(FeatureError, match=r"feats.scp:1: matrix .* does not exist"):
        reader.get(reader.utts[0])


def test_cache_is_bounded_and_evicts_least_recently_used(tmp_path, monkeypatch):
    d = make_feats_dir(tmp_path / "d", counts=(4,), frames=(100, 101))
    reader = FeatureReader(d, cmn_window=50)
    size = reader.get(reader.utts[0]).nbytes        # every utterance: 90 x 8 float32
    reads = []
    real = reader_mod.read_matrix
    monkeypatch.setattr(reader_mod, "read_matrix", lambda *a, **k: reads.append(a) or real(*a, **k))
    cache = PreparedCache(reader, max_bytes=2 * size)
    a, b, c, _ = reader.utts
    first = cache.get(a)
    assert cache.get(a) is first and len(reads) == 1 and cache.hits == 1
    cache.get(b)
    cache.get(a)                  # a is now the most recent: b goes first
    cache.get(c)
    assert a in cache and c in cache and b not in cache
    assert len(cache) == 2 and cache.nbytes == 2 * size <= cache.max_bytes
    assert len(reads) == 3
    assert np.array_equal(cache.get(b), reader.get(b)) and a not in cache
    tiny = PreparedCache(reader, max_bytes=size - 1)    # too big to keep: read, not kept
    assert np.array_equal(tiny.get(a), first) and len(tiny) == 0 and tiny.nbytes == 0
