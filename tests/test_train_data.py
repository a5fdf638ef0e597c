"""lidtool.train.data and samplers: label maps, chunk dataset, short-utterance rule, samplers.

`make_feats_dir` (used by the other test_train_* / test_nnet_* files) writes a synthetic,
separable LID data dir: language c has a larger variance in feature dim c, which survives
sliding CMN and is visible to statistics pooling.
"""
from __future__ import annotations

import logging
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

torch.set_num_threads(1)   # tiny models: threads only contend with each other

from lidtool.errors import DataDirError
from lidtool.train.data import ChunkDataset, load_train_data, repeat_pad
from lidtool.train.labels import read_class_map, write_class_map
from lidtool.train.samplers import ChunkBatchSampler


def make_feats_dir(root: Path, counts=(12, 6, 3), dim: int = 8, frames=(60, 140),
                   seed: int = 0, short: int = 0, vad: bool = True) -> Path:
    """Data dir with feats.scp, vad.scp, utt2lang (+utt2spk); `counts` utterances per
    language (lang0, lang1, ...); `short` extra lang0 utterances of 10 frames."""
    rng = np.random.default_rng(seed)
    d = Path(root)
    d.mkdir(parents=True, exist_ok=True)
    feats, vads, u2l = {}, {}, {}
    for c, n in enumerate(counts):
        for i in range(n + (short if c == 0 else 0)):
            utt = f"lang{c}-u{i:03d}"
            t = 10 if i >= n else int(rng.integers(*frames))
            scale = np.ones(dim, np.float32)
            scale[c % dim] = 3.0
            feats[utt] = (rng.standard_normal((t, dim)) * scale).astype(np.float32)
            v = np.ones(t, np.float32)
            v[: t // 10] = 0.0
            vads[utt] = v
            u2l[utt] = f"lang{c}"
    kaldiio.save_ark(str(d / "feats.ark"), feats, scp=str(d / "feats.scp"))
    if vad:
        kaldiio.save_ark(str(d / "vad.ark"), vads, scp=str(d / "vad.scp"))
    for name in ("feats.scp", "vad.scp"):
        if (d / name).is_file():
            lines = sorted((d / name).read_text().splitlines())
            (d / name).write_text("\n".join(lines) + "\n")
    (d / "utt2lang").write_text("".join(f"{u} {l}\n" for u, l in sorted(u2l.items())))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in sorted(u2l)))
    return d


def test_load_applies_vad_and_drops_short(tmp_path, caplog):
    d = make_feats_dir(tmp_path / "d", counts=(3, 2), short=2)
    with caplog.at_level(logging.WARNING):
        data = load_train_data(d, cmn_window=50, min_frames=20)
    assert "dropped 2 of 7" in caplog.text
    assert data.classes == ["lang0", "lang1"]
    assert len(data) == 5 and list(data.class_counts()) == [3, 2]
    raw = kaldiio.load_scp(str(d / "feats.scp"))[data.utts[0]]
    assert data.get(0).shape == (len(raw) - len(raw) // 10, 8)   # unvoiced frames removed
    assert data.feat_dim == 8


def test_lazy_loading_matches_preload(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(3, 2), short=1)
    eager = load_train_data(d, cmn_window=50, min_frames=20)
    lazy = load_train_data(d, cmn_window=50, min_frames=20, preload=False)
    assert lazy.feats is None and lazy.utts == eager.utts
    assert list(lazy.lengths) == list(eager.lengths)
    for i in range(len(eager)):
        assert np.array_equal(lazy.get(i), eager.get(i))


def test_unknown_language_names_line(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(2, 2))
    with pytest.raises(DataDirError) as err:
        load_train_data(d, ["lang0"], min_frames=5)
    assert "utt2lang:3" in str(err.value) and "lang1" in str(err.value)


def test_nothing_left_is_an_error(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(2,))
    with pytest.raises(DataDirError, match="min_frames"):
        load_train_data(d, min_frames=10_000)


def test_lang2id_roundtrip_and_errors(tmp_path):
    write_class_map(tmp_path / "lang2id", ["fra", "eng"])
    assert read_class_map(tmp_path / "lang2id") == ["fra", "eng"]
    (tmp_path / "bad").write_text("eng 0\nfra 2\n")
    with pytest.raises(DataDirError, match="without gaps"):
        read_class_map(tmp_path / "bad")
    (tmp_path / "bad2").write_text("eng 0\nfra x\n")
    with pytest.raises(DataDirError) as err:
        read_class_map(tmp_path / "bad2")
    assert ":2" in str(err.value)


def test_chunks_and_repeat_pad(tmp_path):
    d = make_feats_dir(tmp_path / "d", counts=(2, 2), frames=(40, 41))
    data = load_train_data(d, min_frames=5)
    ds = ChunkDataset(data)
    x, y = ds[(0, 0.999, 30)]
    assert x.shape == (30, 8) and y == 0
    full = data.get(0)
    assert np.allclose(x.numpy(), full[len(full) - 30:])
    x, _ = ds[(0, 0.5, 100)]           # longer than the utterance: repeated
    assert x.shape == (100, 8)
    assert np.allclose(x.numpy()[: len(full)], full)
    assert np.allclose(x.numpy()[len(full): 2 * len(full)], full)
    assert repeat_pad(np.zeros((3, 2)), 2).shape == (3, 2)


def _sampler(kind, labels, **kw):
    return ChunkBatchSampler(kind, labels, 600, min_chunk=10, max_chunk=20, seed=3,
                             num_classes=3, **kw)


def test_sampler_distributions():
    labels = np.array([0] * 80 + [1] * 16 + [2] * 4)
    counts = lambda s: np.bincount(labels[[i for i, _, _ in s.batch(5)]], minlength=3) / 600
    bal = counts(_sampler("balanced", labels))
    assert np.all(np.abs(bal - 1 / 3) < 0.07)
    alpha = _sampler("alpha", labels, alpha=0.5)
    expect = np.sqrt([80, 16, 4]) / np.sqrt([80, 16, 4]).sum()
    assert np.allclose(alpha.class_probs, expect)
    assert np.all(np.abs(counts(alpha) - expect) < 0.07)
    rnd = _sampler("random", labels)
    seen = [i for step in range(2) for i, _, _ in rnd.batch(step)]
    # instance sampling: each utterance once per epoch (600 = 6 epochs of 100)
    assert np.all(np.bincount(seen, minlength=100) == 12)


def test_sampler_is_deterministic_and_checkpointable():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 3)
    a, b = _sampler("balanced", labels), _sampler("balanced", labels)
    assert a.batch(7) == b.batch(7) and a.batch(7) != a.batch(8)
    lengths = {a.chunk_length(s) for s in range(50)}
    assert min(lengths) >= 10 and max(lengths) <= 20 and len(lengths) > 3
    a.restrict([0, 2])
    c = _sampler("balanced", labels)
    c.load_state_dict(a.state_dict())
    assert c.batch(4) == a.batch(4)
    assert set(labels[[i for i, _, _ in c.batch(4)]]) == {0, 2}
    with pytest.raises(ValueError, match="kind"):
        _sampler("random", labels).load_state_dict(a.state_dict())


def test_sampler_ranks_split_the_global_batch():
    labels = np.arange(40) % 4
    full = ChunkBatchSampler("random", labels, 8, min_chunk=5, max_chunk=9, seed=1)
    parts = [ChunkBatchSampler("random", labels, 8, min_chunk=5, max_chunk=9, seed=1,
                               rank=r, world_size=2) for r in range(2)]
    assert parts[0].batch(3) + parts[1].batch(3) == full.batch(3)


TINY_CONFIG = """\
model: {name: tdnn, channels: 32, stats_channels: 64, hidden: [32]}
data: {min_chunk: 30, max_chunk: 50, min_frames: 20, cmn_window: 50}
sampler: {name: random}
train: {strategy: plain, steps: 60, batch_size: 16, log_every: 20, ckpt_every: 30}
optim: {name: sgd, lr: 0.05}
sched: {name: constant}
wma: {enabled: false, alpha: 0.9}
"""


def write_tiny_config(path: Path, text: str = TINY_CONFIG) -> Path:
    """A TDNN config that learns make_feats_dir's problem in a few seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_sampler_seeds_unique_per_name():
    from lidtool.train.samplers import sampler_seed
    # the historical offsets (the recipes' numbers depend on them)
    assert [sampler_seed(3, n) for n in ("main", "random", "balanced", "dcl")] == \
        [300, 301, 302, 303]
    names = ["main", "random", "balanced", "dcl", "drop", "adapt", "extra", "ssl"]
    for seed in (0, 1, 7):
        seeds = [sampler_seed(seed, n) for n in names]
        assert len(set(seeds)) == len(seeds)
    labels = np.repeat(np.arange(3), 10)
    a, b = (ChunkBatchSampler("random", labels, 8, min_chunk=10, max_chunk=20,
                              seed=sampler_seed(0, n)) for n in ("drop", "adapt"))
    assert a.batch(0) != b.batch(0) and a.batch(0) == a.batch(0)
