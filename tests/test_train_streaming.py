"""Training without data.preload: features stream from disk through the reader and a bounded
cache, start-up reads only frame counts, and the batches (and weights) equal preloading's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lidtool.cli import main as cli
from lidtool.errors import ConfigError, FeatureError
from lidtool.features import reader as reader_mod
from lidtool.train.data import ChunkDataset, load_train_data
from lidtool.train.samplers import ChunkBatchSampler
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)


def _batches(data, steps: int, kind: str = "balanced"):
    sampler = ChunkBatchSampler(kind, data.labels, 6, min_chunk=20, max_chunk=90, seed=5,
                                num_classes=len(data.classes))
    loader = torch.utils.data.DataLoader(ChunkDataset(data), batch_sampler=sampler.batches(0))
    it = iter(loader)
    return [next(it) for _ in range(steps)]


@pytest.mark.parametrize("cache_mb", [0, 0.004, 64])
def test_streaming_batches_equal_preloaded(tmp_path, cache_mb):
    d = make_feats_dir(tmp_path / "d", counts=(5, 3, 2), short=2)
    eager = load_train_data(d, cmn_window=50, min_frames=20)
    lazy = load_train_data(d, cmn_window=50, min_frames=20, preload=False, cache_mb=cache_mb)
    assert lazy.feats is None and lazy.utts == eager.utts and lazy.feat_dim == eager.feat_dim
    assert np.array_equal(lazy.lengths, eager.lengths)
    for (xe, ye), (xl, yl) in zip(_batches(eager, 12), _batches(lazy, 12)):
        assert xe.dtype == xl.dtype == torch.float32
        assert torch.equal(xe, xl) and torch.equal(ye, yl)
    assert lazy.cache.nbytes <= lazy.cache.max_bytes
    if cache_mb == 64:              # everything fits: each utterance is read once
        assert lazy.cache.misses == len(lazy) and lazy.cache.hits > 0
    if cache_mb == 0:
        assert len(lazy.cache) == 0 and lazy.cache.hits == 0


def test_streaming_start_up_reads_one_matrix(tmp_path, monkeypatch):
    d = make_feats_dir(tmp_path / "d", counts=(4, 4))
    reads = []
    real = reader_mod.read_matrix
    monkeypatch.setattr(reader_mod, "read_matrix",
                        lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    data = load_train_data(d, cmn_window=50, min_frames=20, preload=False)
    assert len(reads) == 1 and data.feat_dim == 8     # the feature dim, nothing else
    load_train_data(d, cmn_window=50, min_frames=20)
    assert len(reads) == 1 + 1 + 8                     # preloading reads everything


def test_stale_utt2num_frames_is_an_error_when_streaming(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(3,), vad=False)
    import kaldiio
    n = {u: len(m) for u, m in kaldiio.load_scp(str(d / "feats.scp")).items()}
    stale = dict(n, **{"lang0-u001": n["lang0-u001"] + 7})
    (d / "utt2num_frames").write_text("".join(f"{u} {k}\n" for u, k in sorted(stale.items())))
    data = load_train_data(d, cmn_window=50, min_frames=20, preload=False)
    assert list(data.lengths) == [stale[u] for u in data.utts]
    data.get(0)
    with pytest.raises(FeatureError, match=r"utt2num_frames:2: utterance 'lang0-u001' has "
                                           r"\d+ frames after VAD, but \d+ were counted"):
        data.get(1)
    with pytest.raises(ConfigError, match="cache_mb"):
        load_train_data(d, preload=False, cache_mb=-1)


def test_streaming_training_gives_the_same_weights(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(6, 4, 3))
    conf = write_tiny_config(tmp_path / "c.yaml")
    models = []
    for name, preload in (("eager", "true"), ("lazy", "false")):
        assert cli(["train", "--config", str(conf), "--override", "train.steps=8",
                    "--override", f"data.preload={preload}", str(d),
                    str(tmp_path / name)]) == 0
        models.append(torch.load(tmp_path / name / "final.pt", weights_only=False)["model"])
    assert models[0].keys() == models[1].keys()
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])
